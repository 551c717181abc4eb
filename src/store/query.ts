/** What a query of the store selects by (no dependencies: the kube and HTTP layers read it too). */
/** The fields a query matches exactly, each the column of its snake_case name (the CLI flag: its kebab-case). */
export const QUERY_MATCH_FIELDS = [
  'uid',
  'status',
  'target',
  'fault',
  'creator',
  'containerId',
  'containerRuntime',
  'parentUid',
] as const;
export type QueryMatchField = (typeof QUERY_MATCH_FIELDS)[number];

export type QueryFilter = { [K in QueryMatchField]?: string } & { offset?: number; limit?: number };
