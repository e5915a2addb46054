/**
 * `sg k8s-injector manifests`: everything the webhook needs in a cluster, as YAML: its
 * ServiceAccount, Deployment and Service, the MutatingWebhookConfiguration, and the serving
 * certificate, either from cert-manager (Issuer + Certificate, CA injected into the webhook by
 * cert-manager's CA injector) or from a Secret the operator creates from a generated pair.
 */
import type { MutatingWebhookConfiguration, RuleWithOperations } from 'kubernetes-types/admissionregistration/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Service, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { stringify } from 'yaml';
import { LABEL_INJECT } from './annotations.js';

export const INJECTOR_NAME = 'secret-groups-injector';
export const TLS_SECRET = `${INJECTOR_NAME}-tls`;
export const TOKEN_SECRET = `${INJECTOR_NAME}-token`;
export const WEBHOOK_NAME = 'inject.secret-groups.io';
export const LISTEN_PORT = 8443;
/** Kept under the API server's 30 s limit and above the injector's 3 s call to the server. */
export const TIMEOUT_SECONDS = 5;

export interface ManifestOptions {
  namespace: string;
  agentImage: string;
  serverAddr: string;
  /** The image that runs `sg k8s-injector serve`; the agent image holds `sg` too. */
  image?: string;
  /** Issue the serving certificate with cert-manager. */
  certManager?: boolean;
  /** PEM of the CA that signed the serving certificate (without cert-manager). */
  caBundle?: string;
  /** ConfigMap (key ca.crt) with the server's CA, in the injector's and in every workload namespace. */
  agentCaConfigMap?: string;
  replicas?: number;
}

const LABELS = { 'app.kubernetes.io/name': INJECTOR_NAME, 'app.kubernetes.io/component': 'webhook', 'app.kubernetes.io/part-of': 'secret-groups' };

/** DNS names the API server uses to reach the Service. */
export function serviceDnsNames(namespace: string): string[] {
  const base = `${INJECTOR_NAME}.${namespace}`;
  return [INJECTOR_NAME, base, `${base}.svc`, `${base}.svc.cluster.local`];
}

function deployment(o: ManifestOptions): Deployment {
  const ca = o.agentCaConfigMap;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: INJECTOR_NAME, namespace: o.namespace, labels: LABELS },
    spec: {
      // Two replicas: with failurePolicy Fail, labelled pods cannot be created while none answers.
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { 'app.kubernetes.io/name': INJECTOR_NAME } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: INJECTOR_NAME,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'injector',
              image: o.image ?? o.agentImage,
              imagePullPolicy: 'IfNotPresent',
              command: ['/usr/bin/tini', '--', 'sg', 'k8s-injector', 'serve'],
              args: [
                `--listen=0.0.0.0:${LISTEN_PORT}`,
                '--tls-cert=/etc/secret-groups-injector/tls/tls.crt',
                '--tls-key=/etc/secret-groups-injector/tls/tls.key',
                `--agent-image=${o.agentImage}`,
                `--server-addr=${o.serverAddr}`,
                '--token-file=/var/run/secrets/secret-groups-injector/token',
                ...(ca ? [`--agent-ca-configmap=${ca}`, '--server-ca=/etc/secret-groups/ca/ca.crt'] : []),
              ],
              ports: [{ name: 'https', containerPort: LISTEN_PORT }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10 },
              resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '192Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'tls', mountPath: '/etc/secret-groups-injector/tls', readOnly: true },
                { name: 'token', mountPath: '/var/run/secrets/secret-groups-injector', readOnly: true },
                ...(ca ? [{ name: 'server-ca', mountPath: '/etc/secret-groups/ca', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'tls', secret: { secretName: TLS_SECRET, defaultMode: 0o440 } },
            { name: 'token', secret: { secretName: TOKEN_SECRET, defaultMode: 0o440 } },
            ...(ca ? [{ name: 'server-ca', configMap: { name: ca } }] : []),
          ],
        },
      },
    },
  };
}

/**
 * kubernetes-types 1.30 leaves out the fields RuleWithOperations embeds from Rule (resources,
 * scope); the API has them.
 */
const POD_CREATE: RuleWithOperations & { resources: string[]; scope: string } = {
  operations: ['CREATE'],
  apiGroups: [''],
  apiVersions: ['v1'],
  resources: ['pods'],
  scope: 'Namespaced',
};

function webhook(o: ManifestOptions): MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: INJECTOR_NAME,
      labels: LABELS,
      ...(o.certManager ? { annotations: { 'cert-manager.io/inject-ca-from': `${o.namespace}/${INJECTOR_NAME}` } } : {}),
    },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: {
          service: { namespace: o.namespace, name: INJECTOR_NAME, path: '/mutate', port: 443 },
          ...(o.caBundle ? { caBundle: Buffer.from(o.caBundle).toString('base64') } : {}),
        },
        rules: [POD_CREATE],
        // Fail closed: a labelled pod is never created without its agent. The selectors keep
        // the blast radius to labelled pods outside the injector's own namespace and kube-system.
        failurePolicy: 'Fail',
        matchPolicy: 'Equivalent',
        objectSelector: { matchLabels: { [LABEL_INJECT]: 'true' } },
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([o.namespace, 'kube-system'])] }] },
        sideEffects: 'None',
        timeoutSeconds: TIMEOUT_SECONDS,
        // Called again if a later webhook changes the pod; an injected pod is left as it is.
        reinvocationPolicy: 'IfNeeded',
      },
    ],
  };
}

function certManager(o: ManifestOptions): Record<string, unknown>[] {
  return [
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: `${INJECTOR_NAME}-selfsigned`, namespace: o.namespace, labels: LABELS },
      spec: { selfSigned: {} },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: INJECTOR_NAME, namespace: o.namespace, labels: LABELS },
      spec: {
        secretName: TLS_SECRET,
        dnsNames: serviceDnsNames(o.namespace),
        duration: '2160h',
        renewBefore: '360h',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        issuerRef: { kind: 'Issuer', name: `${INJECTOR_NAME}-selfsigned` },
      },
    },
  ];
}

/** The objects, in apply order. */
export function injectorObjects(o: ManifestOptions): Record<string, unknown>[] {
  const sa: ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: INJECTOR_NAME, namespace: o.namespace, labels: LABELS },
    // The injector never calls the Kubernetes API.
    automountServiceAccountToken: false,
  };
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: INJECTOR_NAME, namespace: o.namespace, labels: LABELS },
    spec: { selector: { 'app.kubernetes.io/name': INJECTOR_NAME }, ports: [{ name: 'https', port: 443, targetPort: 'https' }] },
  };
  return [
    sa as Record<string, unknown>,
    ...(o.certManager ? certManager(o) : []),
    deployment(o) as Record<string, unknown>,
    svc as Record<string, unknown>,
    webhook(o) as Record<string, unknown>,
  ];
}

/** The YAML stream, with a header saying what the operator must create first. */
export function injectorManifests(o: ManifestOptions): string {
  const header = [
    `# secret-groups injector in namespace ${o.namespace} (sg k8s-injector manifests; see docs/kubernetes.md).`,
    '# Create first: the injector\'s token, a role that sees keys only (it asks the server whether',
    '# PROJECT/WORKLOAD exists, nothing else):',
    `#   kubectl -n ${o.namespace} create secret generic ${TOKEN_SECRET} --from-file=token=injector.token`,
    ...(o.certManager
      ? ['# The serving certificate is issued by cert-manager, which also fills in the webhook\'s caBundle.']
      : [`#   kubectl -n ${o.namespace} create secret tls ${TLS_SECRET} --cert=injector.crt --key=injector.key`]),
  ].join('\n');
  return `${header}\n${injectorObjects(o)
    .map((obj) => stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n')}`;
}
