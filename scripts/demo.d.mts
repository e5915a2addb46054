/** Types of scripts/demo.mjs, for its test. */
export interface DemoSecrets {
  KEY_1: string;
  KEY_2: string;
  DB_PASSWORD: string;
  TLS_KEY: string;
}
export function demoSecrets(seed?: string): DemoSecrets;
export const DEMO_CONFIG: {
  B: Record<'KEY_1' | 'KEY_2' | 'KEY_3' | 'LOG_LEVEL', string>;
  DB: Record<'host' | 'port' | 'user', string>;
  TLS_KEY_FILE: string;
};
export function expectedResolution(secrets: DemoSecrets, workload: 'api' | 'worker'): { vars: Record<string, string>; files: Record<string, string> };
export function maskTables(text: string, maskCell: (cell: string) => string): string;
