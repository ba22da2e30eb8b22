/**
 * What the stacks promise the trust boundary (ADR 0008): every inbox event source is capped by
 * `maximumConcurrency` (configurable per activity), and each stage orchestrator is told which roles
 * may send it commands (its own, the sweeper's from core's export) and which operators.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import shippedConfig from '../../plugboard.config.js';
import { logicalIdOf, synthApp } from '../support/synth.js';

const OPERATOR = 'AROAOPERATORROLE00001';

describe('trust boundary in the synthesized stacks', () => {
  const { stacks } = synthApp({
    nag: false,
    config: {
      ...shippedConfig,
      activities: { ...shippedConfig.activities, intake: { inboxMaximumConcurrency: 5 } },
      operatorPrincipals: [OPERATOR],
    },
  });
  const intake = stacks.activities.find((s) => s.activity.activityName === 'intake');
  const notify = stacks.activities.find((s) => s.activity.activityName === 'notify');
  if (!intake || !notify) throw new Error('the shipped config declares intake and notify');
  const intakeTemplate = Template.fromStack(intake);

  it('caps every inbox event source at the configured maximumConcurrency, 20 by default', () => {
    intakeTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    intakeTemplate.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    Template.fromStack(notify).allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    Template.fromStack(stacks.core).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it('tells each stage orchestrator its command senders (own role, sweeper) and the operators', () => {
    const stage = intake.activity.stages.pre;
    const role = logicalIdOf(stage.orchestrator.role);
    intakeTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PLUGBOARD_ACTIVITY: 'intake',
          PLUGBOARD_STAGE: 'pre',
          PLUGBOARD_COMMAND_SENDERS: {
            'Fn::Join': [
              ',',
              [{ 'Fn::GetAtt': [role, 'RoleId'] }, { 'Fn::ImportValue': 'plugboard-dev-sweeper-role-id' }],
            ],
          },
          PLUGBOARD_OPERATOR_PRINCIPALS: OPERATOR,
        }),
      },
    });
    expect(stacks.config.operatorPrincipals).toEqual([OPERATOR]);
  });

  it('lets only the engine roles and the listed operators write the status table', () => {
    Template.fromStack(stacks.core).hasResourceProperties('AWS::DynamoDB::Table', {
      ResourcePolicy: {
        PolicyDocument: {
          Statement: [
            Match.objectLike({
              Sid: 'DenyWritesByPlugins',
              Effect: 'Deny',
              Resource: '*',
              Condition: { Null: { 'aws:PrincipalTag/plugboard:system': 'false' } },
            }),
            Match.objectLike({
              Sid: 'DenyWritesButEngineAndOperators',
              Effect: 'Deny',
              Resource: '*',
              Condition: {
                StringNotEquals: { 'aws:PrincipalTag/plugboard:engine': 'plugboard-dev' },
                StringNotLike: { 'aws:userid': [OPERATOR, `${OPERATOR}:*`] },
              },
            }),
          ],
        },
      },
    });
  });
});
