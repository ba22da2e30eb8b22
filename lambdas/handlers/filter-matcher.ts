import type { FilterMatcher } from '../engine/deps.js';
import { matchesFilterPolicy, validateFilterPolicy } from '../engine/filter-policy.js';

/** The engine's view of a registration's filter policy, evaluated with the SNS grammar. */
export const filterMatcher: FilterMatcher = (registration, message) => {
  if (!registration.filterPolicy) return true;
  const scope = registration.filterPolicyScope;
  return matchesFilterPolicy(validateFilterPolicy(registration.filterPolicy, scope), scope, message);
};
