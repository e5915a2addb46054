/**
 * `sg k8s-injector serve | manifests`: the Kubernetes mutating admission webhook that puts
 * the agent beside labelled pods (server/k8s-injector/), and the YAML that installs it.
 */
import type { Command } from 'commander';
import { usage } from '../errors.js';
import { readInput } from '../kit.js';

const HOST_PORT = /^(\[[^\]]+\]|[^:\s/]+):(\d{1,5})$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** registry/name[:tag][@digest], no spaces: what a container's `image` takes. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

function hostPort(flag: string, text: string | undefined): { host: string; port: number } {
  const m = text === undefined ? null : HOST_PORT.exec(text);
  if (!m || Number(m[2]) > 65535) throw usage(`${flag} must be HOST:PORT, got ${JSON.stringify(text ?? '')}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** host:port, optionally with https:// (TLS verified against the system CAs). */
function serverAddr(text: string | undefined): string {
  if (!text) throw usage('--server-addr HOST:PORT is required (the secret-groups server as agents in the cluster reach it)');
  hostPort('--server-addr', text.replace(/^https?:\/\//, ''));
  return text;
}

function image(flag: string, text: string | undefined): string {
  if (!text) throw usage(`${flag} IMAGE is required`);
  if (!IMAGE.test(text) || text.length > 512) throw usage(`${flag}: ${JSON.stringify(text.slice(0, 80))} is not an image reference`);
  return text;
}

function configMapName(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!DNS_SUBDOMAIN.test(text) || text.length > 253) throw usage(`--agent-ca-configmap: ${JSON.stringify(text.slice(0, 80))} is not a ConfigMap name`);
  return text;
}

interface ServeOpts {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  agentImage?: string;
  serverAddr?: string;
  tokenFile?: string;
  serverCa?: string;
  agentCaConfigmap?: string;
  logLevel?: string;
}

interface ManifestOpts {
  namespace?: string;
  agentImage?: string;
  serverAddr?: string;
  image?: string;
  certManager?: boolean;
  caBundle?: string;
  agentCaConfigmap?: string;
  replicas?: string;
}

const SERVE_HELP = `
Pods labelled secret-groups.io/inject=true with the annotations secret-groups.io/project and
secret-groups.io/workload get the agent (--agent-image) as a native sidecar, or as an init
container for pods of a Job and for secret-groups.io/mode: init; a projected service-account
token (audience secret-groups); an in-memory volume at /run/secret-groups; and their commands
wrapped so that they start with the variables in their environment. Before admitting a pod the
injector asks the server whether PROJECT/WORKLOAD exists (GetWorkload, keys only) with the
token in --token-file; an unknown workload, or an unreachable server, refuses the pod.
The certificate and key are re-read when their files change. See docs/kubernetes.md.`;

export function registerK8sInjector(program: Command): void {
  const cmd = program.command('k8s-injector').description('Kubernetes admission webhook that injects the agent into labelled pods');

  cmd
    .command('serve')
    .description('run the mutating admission webhook (HTTPS: POST /mutate, GET /healthz)')
    .option('--listen <host:port>', 'address to listen on (default 0.0.0.0:8443)')
    .option('--tls-cert <file>', 'serving certificate (PEM), re-read when it changes (required)')
    .option('--tls-key <file>', 'its private key (PEM) (required)')
    .option('--agent-image <image>', 'image of the injected agent: the Dockerfile\'s agent target (required)')
    .option('--server-addr <host:port>', 'the secret-groups server as agents reach it; https:// for system CAs (required)')
    .option('--token-file <file>', 'token the injector checks workloads with; a role that sees keys only (required)')
    .option('--server-ca <file>', 'CA (PEM) of the server certificate, for the injector\'s own calls; enables TLS')
    .option('--agent-ca-configmap <name>', 'ConfigMap (key ca.crt) in each workload namespace with the server\'s CA; mounted into the agent as SG_CA')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent ($SG_LOG_LEVEL; default info)')
    .addHelpText('after', SERVE_HELP)
    .action(async (opts: ServeOpts) => {
      const listen = hostPort('--listen', opts.listen ?? '0.0.0.0:8443');
      if (!opts.tlsCert || !opts.tlsKey) throw usage('--tls-cert and --tls-key are required (the API server calls webhooks over HTTPS only)');
      await readInput(opts.tlsCert, '--tls-cert');
      await readInput(opts.tlsKey, '--tls-key');
      const agentImage = image('--agent-image', opts.agentImage);
      const addr = serverAddr(opts.serverAddr);
      if (!opts.tokenFile) throw usage('--token-file FILE is required: the injector asks the server whether a pod\'s workload exists');
      await readInput(opts.tokenFile, '--token-file');
      if (opts.serverCa) await readInput(opts.serverCa, '--server-ca');
      const agentCaConfigMap = configMapName(opts.agentCaConfigmap);
      const { createLogger } = await import('../../server/log.js');
      const log = createLogger(opts.logLevel ?? process.env.SG_LOG_LEVEL ?? 'info');
      const { workloadChecker } = await import('../../server/k8s-injector/workload-check.js');
      const { startInjectorServer } = await import('../../server/k8s-injector/server.js');
      const checker = workloadChecker({ addr, tokenFile: opts.tokenFile, ...(opts.serverCa ? { ca: opts.serverCa } : {}) });
      const server = await startInjectorServer({
        host: listen.host,
        port: listen.port,
        tlsCert: opts.tlsCert,
        tlsKey: opts.tlsKey,
        settings: { agentImage, serverAddr: addr, ...(agentCaConfigMap ? { agentCaConfigMap } : {}) },
        checker,
        log,
      });
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      process.stderr.write(`secret-groups injector listening on https://${server.addr}\n`);
    });

  cmd
    .command('manifests')
    .description('print the YAML that installs the injector: ServiceAccount, Deployment, Service, MutatingWebhookConfiguration')
    .option('--namespace <ns>', 'namespace of the injector (required)')
    .option('--agent-image <image>', 'image of the injected agent (required)')
    .option('--server-addr <host:port>', 'the secret-groups server as agents reach it (required)')
    .option('--image <image>', 'image that runs `sg k8s-injector serve` (default: the agent image, which holds sg)')
    .option('--cert-manager', 'issue the serving certificate with cert-manager (Issuer, Certificate, CA injection)')
    .option('--ca-bundle <file>', 'CA (PEM) that signed the serving certificate in the Secret secret-groups-injector-tls (without --cert-manager)')
    .option('--agent-ca-configmap <name>', 'ConfigMap (key ca.crt) with the server\'s CA, in the injector\'s and in each workload namespace')
    .option('--replicas <n>', 'injector replicas (default 2)')
    .action(async (opts: ManifestOpts) => {
      if (!opts.namespace || !DNS_LABEL.test(opts.namespace)) throw usage(`--namespace must be a namespace name, got ${JSON.stringify(opts.namespace ?? '')}`);
      const agentImage = image('--agent-image', opts.agentImage);
      const addr = serverAddr(opts.serverAddr);
      const injectorImage = opts.image === undefined ? undefined : image('--image', opts.image);
      if (opts.certManager && opts.caBundle) throw usage('--cert-manager and --ca-bundle exclude each other (cert-manager injects the CA)');
      if (!opts.certManager && !opts.caBundle) {
        throw usage('the API server must trust the injector\'s certificate: give --cert-manager, or --ca-bundle FILE with the CA of the pair in Secret secret-groups-injector-tls (docs/kubernetes.md shows the openssl commands)');
      }
      let caBundle: string | undefined;
      if (opts.caBundle) {
        caBundle = (await readInput(opts.caBundle, '--ca-bundle')).toString('utf8');
        if (!caBundle.includes('-----BEGIN CERTIFICATE-----')) throw usage(`--ca-bundle: ${opts.caBundle} holds no PEM certificate`);
      }
      let replicas: number | undefined;
      if (opts.replicas !== undefined) {
        if (!/^[1-9]\d?$/.test(opts.replicas)) throw usage(`--replicas must be a number from 1 to 99, got ${JSON.stringify(opts.replicas.slice(0, 20))}`);
        replicas = Number(opts.replicas);
      }
      const agentCaConfigMap = configMapName(opts.agentCaConfigmap);
      const { injectorManifests } = await import('../../server/k8s-injector/manifests.js');
      process.stdout.write(
        injectorManifests({
          namespace: opts.namespace,
          agentImage,
          serverAddr: addr,
          ...(injectorImage ? { image: injectorImage } : {}),
          ...(opts.certManager ? { certManager: true } : {}),
          ...(caBundle ? { caBundle } : {}),
          ...(agentCaConfigMap ? { agentCaConfigMap } : {}),
          ...(replicas ? { replicas } : {}),
        }),
      );
    });
}
