// TEMP STUB (not committed)
import type { DrillApi } from './api';
export const HttpDrillApi = class {
  constructor() {
    throw new Error('drill --server: not built yet');
  }
} as unknown as new (o: { server: string; tokenFile?: string; dataDir?: string }) => DrillApi;
