export * from '../../plugin-kit/src/contracts/index.js';
export * from './schemas.js';
