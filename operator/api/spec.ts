/**
 * The MeshInstallation spec: the single definition from which the TypeScript type and the CRD's
 * OpenAPI schema (descriptions, defaults, CEL rules) are both derived.
 *
 * Conventions: a field with a `default` is filled in by the API server, never by the operator (the
 * operator does not write spec, so GitOps tools see no drift). Fields whose sensible default depends
 * on the mesh or the profile have no schema default; their descriptions say what "unset" means.
 * Every string, list and map is bounded so the API server's CEL cost estimator accepts the rules.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AnyJsonValue, celIsDuration, celRules, DnsLabel, DnsSubdomain, Duration, FreeformObject, IntOrString, LabelSelector,
  ResourceRequirements, SecretReference, StringEnum, StringMap, Tolerations, withDefault, type Defaulted,
} from './schema-helpers.ts';

/** Meshes the operator can install. */
export const MESHES = ['istio', 'linkerd'] as const;
/** A mesh the operator can install. */
export type Mesh = (typeof MESHES)[number];

/** Installation profiles: sizing and feature presets for the control plane. */
export const PROFILES = ['default', 'minimal', 'demo', 'ha'] as const;

/** Key algorithms for the mesh CA (root and intermediate). */
export const KEY_ALGORITHMS = ['ECDSAP256', 'RSA2048'] as const;

/** Istio release versions: `1.MINOR.PATCH`. */
export const ISTIO_VERSION_PATTERN = '^1[.][0-9]+[.][0-9]+$';

/**
 * Linkerd release versions: stable `2.MINOR` or `2.MINOR.PATCH` (Linkerd tags stable majors as
 * version-2.20) or edge `edge-YY.M.N`.
 */
export const LINKERD_VERSION_PATTERN = '^(2[.][0-9]+([.][0-9]+)?|edge-[0-9]{2}[.][0-9]{1,2}[.][0-9]+)$';

/** Largest replica count accepted anywhere in the spec: beyond it, a typo is likelier than intent. */
export const MAX_REPLICAS = 100;

/** CEL for "the optional field at `path` (dotted, below `self`) is present". */
function celHas(path: string): string {
  const parts = path.split('.');
  return parts.map((_, i) => `has(self.${parts.slice(0, i + 1).join('.')})`).join(' && ');
}

/** CEL for "with mesh `mesh`, the field at `path` is absent or `allowedExpr` holds". */
function celMeshRestricts(mesh: Mesh, path: string, allowedExpr: string): string {
  return `self.mesh != '${mesh}' || !(${celHas(path)}) || ${allowedExpr}`;
}

/** CEL for "with mesh `mesh`, the field at `path` is absent". */
function celMeshForbids(mesh: Mesh, path: string): string {
  return `self.mesh != '${mesh}' || !(${celHas(path)})`;
}

/*
 * Rules on objects with a schema default must guard every field with has(): the API server checks
 * the default itself (e.g. `{}`) against the rules, before nested defaults are filled in.
 */

/** CEL: the CA is External (type is defaulted, so it may be absent when a default is checked). */
const IS_EXTERNAL_CA = "has(self.type) && self.type == 'External'";

/** CEL: duration field `shorter` is shorter than `longer` whenever both are present and well-formed. */
function celDurationsOrdered(shorter: string, longer: string): string {
  const guards = [shorter, longer].map((path) => `!(${celHas(path)}) || !${celIsDuration(`self.${path}`)}`);
  return `${guards.join(' || ')} || duration(self.${shorter}) < duration(self.${longer})`;
}

/** CEL: an IntOrString is a positive count or a percentage from 1% to 100%. */
const POSITIVE_COUNT_OR_PERCENT = "type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')";

const controlPlane = Type.Object({
  replicas: Type.Optional(Type.Integer({
    description: `Replicas of each control-plane Deployment (1-${MAX_REPLICAS}). Unset: decided by the profile (more than one with ha).`,
    format: 'int32', minimum: 1, maximum: MAX_REPLICAS,
  })),
  resources: Type.Optional(ResourceRequirements('CPU and memory requests and limits of the control-plane containers. Unset: the profile\'s values.')),
  nodeSelector: Type.Optional(StringMap(
    Type.String({ description: 'Required node label value.', maxLength: 63 }),
    { description: 'Node labels the control-plane pods must be scheduled on.', maxProperties: 32 },
  )),
  tolerations: Type.Optional(Tolerations('Taints the control-plane pods tolerate.')),
  affinity: Type.Optional(FreeformObject({
    description: 'Pod affinity, anti-affinity and node affinity of the control-plane pods, in the format of a Pod\'s spec.affinity. Unset with profile ha: spread across nodes.',
  })),
  priorityClassName: Type.Optional(Type.String({ description: 'PriorityClass of the control-plane pods.', maxLength: 253 })),
}, { description: 'Scheduling and sizing of the control plane (discovery, CA, webhooks).' });

const tracingCollector = Type.Object({
  protocol: StringEnum(['Zipkin', 'OpenTelemetry'], {
    description: 'Protocol the proxies export spans with. Linkerd proxies speak OpenTelemetry only.',
  }),
  address: Type.String({
    description: 'host:port of the collector, e.g. otel-collector.observability.svc:4317.',
    maxLength: 261,
    ...celRules({
      rule: "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[0-9]{1,5}$') && int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535",
      message: 'must be host:port with a lowercase DNS name or IPv4 address and a port from 1 to 65535, e.g. otel-collector.observability.svc:4317',
    }),
  }),
}, { description: 'Where proxies send spans.' });

const meshConfig = Type.Object({
  mtls: withDefault(Type.Object({
    mode: withDefault(StringEnum(['STRICT', 'PERMISSIVE'], {
      description: 'STRICT: meshed workloads accept only mutual-TLS traffic. PERMISSIVE: they also accept plaintext, which eases migration.',
    }), 'PERMISSIVE'),
  }, { description: 'Mesh-wide mutual TLS between workloads.' }), {}),
  trustDomain: withDefault(DnsSubdomain({
    description: 'Trust domain of workload identities (the SPIFFE ID authority for Istio, the identity domain for Linkerd).',
  }), 'cluster.local'),
  outboundTrafficPolicy: withDefault(StringEnum(['ALLOW_ANY', 'REGISTRY_ONLY'], {
    description: 'ALLOW_ANY: proxies pass traffic to unknown destinations. REGISTRY_ONLY: only to known services (Istio only; Linkerd has no equivalent).',
  }), 'ALLOW_ANY'),
  accessLog: withDefault(Type.Object({
    enabled: withDefault(Type.Boolean({ description: 'Whether proxies write an access log line per request.' }), false),
    encoding: withDefault(StringEnum(['TEXT', 'JSON'], { description: 'Format of access log lines.' }), 'TEXT'),
  }, { description: 'Proxy access logs.' }), {}),
  tracing: withDefault(Type.Object({
    enabled: withDefault(Type.Boolean({ description: 'Whether proxies emit trace spans; requires collector.' }), false),
    samplingPercent: Type.Optional(Type.Number({
      description: 'Percentage of requests (0-100) traced at the mesh edge. Istio only (unset: 1); Linkerd proxies follow the caller\'s sampling decision.',
      minimum: 0, maximum: 100,
    })),
    collector: Type.Optional(tracingCollector),
  }, {
    description: 'Distributed tracing by the proxies.',
    ...celRules({
      rule: '!has(self.enabled) || !self.enabled || has(self.collector)',
      message: 'collector is required when tracing is enabled',
      fieldPath: '.collector',
      reason: 'FieldValueRequired',
    }),
  }), {}),
  proxy: Type.Optional(Type.Object({
    logLevel: Type.Optional(StringEnum(['trace', 'debug', 'info', 'warning', 'error', 'off'], {
      description: 'Log level of the proxies. Unset: the mesh\'s default (Istio: warning, Linkerd: warn with info for the proxy itself).',
    })),
    resources: Type.Optional(ResourceRequirements(
      'CPU and memory requests and limits of each injected proxy, merged over the profile\'s quantity by quantity (a request alone keeps the profile\'s limit). Profile values: Istio requests 100m CPU and 128Mi memory (demo: 10m, 40Mi) within limits of 2000m and 1024Mi; Linkerd none, except ha: requests 100m CPU and 20Mi memory, memory limit 250Mi. A request above the resulting limit stalls the installation.',
    )),
    holdApplicationUntilProxyStarts: Type.Optional(Type.Boolean({
      description: 'Start application containers only once the proxy is ready. Unset: the mesh\'s default (Istio: false, Linkerd: true).',
    })),
  }, { description: 'Settings of the injected proxies.' })),
}, { description: 'Mesh-wide behaviour: mTLS, trust domain, egress policy, telemetry and proxy settings.' });

const rootRotation = Type.Object({
  automatic: withDefault(Type.Boolean({
    description: 'Rotate the root automatically when it is within renewBefore of expiry (SelfSigned only).',
  }), true),
  renewBefore: withDefault(Duration({
    description: 'How long before the root expires an automatic rotation starts; must be shorter than rootTTL.',
    min: '1m',
  }), '720h'),
  trigger: Type.Optional(Type.String({
    description: 'Changing this value (e.g. incrementing a counter or writing a date) starts a root rotation now. status.certificateAuthority.rotation.lastTrigger records the value acted on.',
    minLength: 1, maxLength: 63,
  })),
}, {
  description: 'Rotation of the root (trust anchor): new root added to the trust bundle, workloads restarted, issuer switched, workloads restarted, old root dropped.',
});

const certificateAuthority = Type.Object({
  type: withDefault(StringEnum(['SelfSigned', 'External'], {
    description: 'SelfSigned: the operator creates, renews and rotates the root and intermediate. External: the root and intermediate come from the Secret in secretRef and are renewed by you (e.g. with cert-manager). Fixed once the installation exists: switching would replace the root every workload trusts at once.',
    // Until root rotation with an overlap exists, a switch has no safe path: SelfSigned to External
    // drops the root every proxy trusts, External to SelfSigned has no root key to continue with.
    ...celRules({
      rule: 'self == oldSelf',
      message: 'type cannot change on an existing installation: switching between SelfSigned and External would cut every workload\'s trust at once (root rotation with an overlap rotates a root within a CA type, it does not switch types); keep the type, or delete this MeshInstallation and create it again with the other type, then restart every meshed workload',
    }),
  }), 'SelfSigned'),
  keyAlgorithm: Type.Optional(StringEnum(KEY_ALGORITHMS, {
    description: 'Key algorithm of the CA certificates the operator issues. Unset: the mesh\'s default (Istio: RSA2048, as Istio\'s own CA; Linkerd: ECDSAP256, the only one it supports). With External, the key in the Secret must use it when set.',
  })),
  rootTTL: withDefault(Duration({ description: 'Lifetime of a self-signed root (trust anchor).', min: '1h' }), '87600h'),
  intermediateTTL: withDefault(Duration({
    description: 'Lifetime of the intermediate (issuer) the operator signs; must be shorter than rootTTL.',
    min: '10m',
  }), '8760h'),
  renewBefore: withDefault(Duration({
    description: 'How long before the intermediate expires it is renewed (SelfSigned) or reported as expiring in the CertificateAuthorityReady condition (External); must be shorter than intermediateTTL.',
    min: '1m',
  }), '720h'),
  rootRotation: withDefault(rootRotation, {}),
  secretRef: Type.Optional(SecretReference(
    'External only: the Secret holding the trust anchors (ca.crt), the intermediate certificate chain (tls.crt) and its private key (tls.key), the layout cert-manager writes.',
  )),
}, {
  description: 'The mesh certificate authority: the root (trust anchor) and the intermediate (issuer) that signs workload certificates.',
  ...celRules(
    {
      rule: `!(${IS_EXTERNAL_CA}) || has(self.secretRef)`,
      message: 'secretRef is required when type is External: name the Secret holding ca.crt, tls.crt and tls.key',
      fieldPath: '.secretRef', reason: 'FieldValueRequired',
    },
    {
      rule: `(${IS_EXTERNAL_CA}) || !has(self.secretRef)`,
      message: 'secretRef is allowed only when type is External; remove it or set type: External',
      fieldPath: '.secretRef', reason: 'FieldValueForbidden',
    },
    {
      rule: celDurationsOrdered('intermediateTTL', 'rootTTL'),
      messageExpression: "'must be shorter than rootTTL (' + self.rootTTL + '), got ' + self.intermediateTTL",
      fieldPath: '.intermediateTTL',
    },
    {
      rule: celDurationsOrdered('renewBefore', 'intermediateTTL'),
      messageExpression: "'must be shorter than intermediateTTL (' + self.intermediateTTL + '), got ' + self.renewBefore",
      fieldPath: '.renewBefore',
    },
    {
      rule: celDurationsOrdered('rootRotation.renewBefore', 'rootTTL'),
      messageExpression: "'must be shorter than rootTTL (' + self.rootTTL + '), got ' + self.rootRotation.renewBefore",
      fieldPath: '.rootRotation.renewBefore',
    },
  ),
});

const namespaceList = (description: string) => Type.Array(DnsLabel({ description: 'A namespace name.' }), {
  description, minItems: 1, maxItems: 256, 'x-kubernetes-list-type': 'set',
});

const injection = Type.Object({
  namespaces: Type.Optional(namespaceList('Namespaces the operator enrols for proxy injection, by name. Mutually exclusive with namespaceSelector; with neither, no namespace is enrolled.')),
  namespaceSelector: Type.Optional(LabelSelector('Namespaces the operator enrols for proxy injection, by label. Mutually exclusive with namespaces.')),
  restartWorkloads: withDefault(Type.Object({
    enabled: withDefault(Type.Boolean({
      description: 'Restart workloads whose proxies are outdated (after an upgrade, a proxy setting change or a root rotation) so every pod runs the current proxy.',
    }), true),
    maxUnavailable: withDefault(IntOrString({
      description: 'How many pods a restart batch may take down at once: a count of pods (>= 1) or a percentage (1%-100%, rounded down, at least 1) of the pods of the enrolled workloads. A batch takes workloads while the sum of their pods stays within it; a workload with more pods than that goes alone, bounded by its own rollout strategy.',
      maxLength: 4,
      ...celRules({ rule: POSITIVE_COUNT_OR_PERCENT, message: 'must be a count of at least 1 or a percentage from 1% to 100%' }),
    }), '25%'),
    batchInterval: withDefault(Duration({ description: 'Pause between restart batches, after the previous batch is healthy.', max: '24h' }), '30s'),
  }, { description: 'How workloads are restarted to pick up a new proxy.' }), {}),
}, {
  description: 'Which namespaces get the mesh proxy injected, and how their workloads are restarted.',
  ...celRules({
    rule: '!has(self.namespaces) || !has(self.namespaceSelector)',
    message: 'set either namespaces or namespaceSelector, not both',
    fieldPath: '.namespaceSelector', reason: 'FieldValueForbidden',
  }),
});

const servicePort = Type.Object({
  name: DnsLabel({ description: 'Name of the port, unique within the gateway (e.g. http2, https).' }),
  port: Type.Integer({ description: 'Port the Service exposes (1-65535).', format: 'int32', minimum: 1, maximum: 65535 }),
  targetPort: Type.Optional(Type.Integer({
    description: 'Port the gateway pods listen on (1-65535). Unset: same as port.',
    format: 'int32', minimum: 1, maximum: 65535,
  })),
  protocol: withDefault(StringEnum(['TCP', 'UDP'], { description: 'Transport protocol.' }), 'TCP'),
  nodePort: Type.Optional(Type.Integer({
    description: 'Node port for Service types NodePort and LoadBalancer (1-65535; the cluster\'s node port range applies).',
    format: 'int32', minimum: 1, maximum: 65535,
  })),
}, { description: 'A port of the gateway Service.' });

const gatewayService = Type.Object({
  type: Type.Optional(StringEnum(['ClusterIP', 'NodePort', 'LoadBalancer'], {
    description: 'Service type. Unset: LoadBalancer for Ingress gateways, ClusterIP for Egress gateways.',
  })),
  ports: Type.Optional(Type.Array(servicePort, {
    description: 'Ports of the Service, keyed by name. Unset: the mesh\'s defaults (80 and 443, plus 15021 for health).',
    maxItems: 16, minItems: 1,
    'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
    ...celRules({
      rule: 'self.all(p, self.exists_one(q, q.port == p.port && q.protocol == p.protocol))',
      message: 'each port number may appear once per protocol',
    }),
  })),
  annotations: Type.Optional(StringMap(
    Type.String({ description: 'Annotation value.', maxLength: 4096 }),
    { description: 'Annotations on the Service, e.g. for the cloud load balancer.', maxProperties: 32 },
  )),
  externalTrafficPolicy: Type.Optional(StringEnum(['Cluster', 'Local'], {
    description: 'How traffic from outside the cluster reaches the gateway pods (NodePort and LoadBalancer Services only). Local: only to gateway pods on the node that received it, which keeps the client\'s source IP and saves a hop; nodes without a gateway pod fail the load balancer\'s health check and get no traffic. Cluster: to any gateway pod. Unset: Kubernetes\' default, Cluster.',
  })),
}, {
  description: 'The gateway\'s Service.',
  ...celRules({
    rule: "!has(self.ports) || (has(self.type) && self.type != 'ClusterIP') || self.ports.all(p, !has(p.nodePort))",
    message: 'nodePort requires type NodePort or LoadBalancer',
    fieldPath: '.ports',
  }),
});

const autoscaling = Type.Object({
  enabled: withDefault(Type.Boolean({ description: 'Create a HorizontalPodAutoscaler for the gateway; its replica count is then left to it.' }), false),
  minReplicas: withDefault(Type.Integer({ description: `Fewest replicas (1-${MAX_REPLICAS}).`, format: 'int32', minimum: 1, maximum: MAX_REPLICAS }), 1),
  maxReplicas: withDefault(Type.Integer({
    description: `Most replicas (1-${MAX_REPLICAS}); at least minReplicas.`,
    format: 'int32', minimum: 1, maximum: MAX_REPLICAS,
  }), 5),
  targetCPUUtilizationPercent: withDefault(Type.Integer({
    description: 'Average CPU utilization (1-100, percent of requests) the autoscaler aims for.',
    format: 'int32', minimum: 1, maximum: 100,
  }), 80),
}, {
  description: 'Horizontal autoscaling of the gateway.',
  ...celRules({
    rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
    message: 'maxReplicas must be at least minReplicas',
    fieldPath: '.maxReplicas',
  }),
});

const availabilityBound = (what: string) => IntOrString({
  description: `${what}: a count (>= 1) or a percentage of the gateway's pods (1%-100%).`,
  maxLength: 4,
  ...celRules({ rule: POSITIVE_COUNT_OR_PERCENT, message: 'must be a count of at least 1 or a percentage from 1% to 100%' }),
});

/** UID and GID the gateway proxy runs as unless `securityContext` says otherwise (Istio's proxy user). */
export const GATEWAY_PROXY_UID = 1337;

/** Kubernetes' sysctl name syntax: dot- or slash-separated segments of lowercase letters, digits, "-" and "_". */
const SYSCTL_NAME_PATTERN = '^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$';

const linuxId = (what: string) => Type.Integer({ description: what, format: 'int64', minimum: 0, maximum: 2147483647 });

/** A seccomp or AppArmor profile reference, as on a Pod. */
const securityProfile = (what: string, example: string) => Type.Object({
  type: StringEnum(['RuntimeDefault', 'Unconfined', 'Localhost'], { description: `Which ${what} profile: the container runtime's default, none, or one loaded on the node (Localhost).` }),
  localhostProfile: Type.Optional(Type.String({ description: `With type Localhost: the profile on the node, e.g. ${example}.`, minLength: 1, maxLength: 253 })),
}, {
  description: `The ${what} profile of the gateway pods.`,
  ...celRules({
    rule: "self.type == 'Localhost' ? has(self.localhostProfile) : !has(self.localhostProfile)",
    messageExpression: "self.type == 'Localhost' ? 'localhostProfile is required with type Localhost' : 'localhostProfile is allowed only with type Localhost, not ' + self.type",
    fieldPath: '.localhostProfile',
  }),
});

const podSecurityContext = Type.Object({
  runAsUser: Type.Optional(linuxId(`UID the gateway containers run as. Unset: ${GATEWAY_PROXY_UID}.`)),
  runAsGroup: Type.Optional(linuxId(`GID the gateway containers run as. Unset: ${GATEWAY_PROXY_UID}.`)),
  runAsNonRoot: Type.Optional(Type.Boolean({ description: 'Refuse to start a container that would run as root (UID 0). Unset: true.' })),
  fsGroup: Type.Optional(linuxId('GID that owns the pod\'s volumes and is added to the containers\' groups.')),
  fsGroupChangePolicy: Type.Optional(StringEnum(['OnRootMismatch', 'Always'], {
    description: 'When the kubelet changes volume ownership to fsGroup: always, or only when the volume root does not match already.',
  })),
  supplementalGroups: Type.Optional(Type.Array(linuxId('A supplemental GID.'), { description: 'Further GIDs added to the containers\' groups.', maxItems: 32 })),
  sysctls: Type.Optional(Type.Array(Type.Object({
    name: Type.String({
      description: 'Name of the sysctl, e.g. net.ipv4.ip_unprivileged_port_start.',
      minLength: 1, maxLength: 253,
      ...celRules({ rule: `self.matches('${SYSCTL_NAME_PATTERN}')`, message: 'must be a sysctl name such as net.ipv4.ip_unprivileged_port_start: lowercase segments separated by "." or "/"' }),
    }),
    value: Type.String({ description: 'Value of the sysctl.', maxLength: 1024 }),
  }, { description: 'A namespaced kernel parameter set for the pod.' }), {
    description: 'Namespaced kernel parameters set for the pod, e.g. net.ipv4.ip_unprivileged_port_start=0 so the proxy may listen on ports below 1024. Sysctls outside Kubernetes\' safe set must also be allowed on the kubelets (--allowed-unsafe-sysctls), or the pods will not start.',
    maxItems: 32, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
  })),
  seccompProfile: Type.Optional(securityProfile('seccomp', 'profiles/gateway.json')),
  appArmorProfile: Type.Optional(securityProfile('AppArmor', 'k8s-gateway')),
  seLinuxOptions: Type.Optional(Type.Object({
    user: Type.Optional(Type.String({ description: 'SELinux user label.', maxLength: 253 })),
    role: Type.Optional(Type.String({ description: 'SELinux role label.', maxLength: 253 })),
    type: Type.Optional(Type.String({ description: 'SELinux type label.', maxLength: 253 })),
    level: Type.Optional(Type.String({ description: 'SELinux level label.', maxLength: 253 })),
  }, { description: 'SELinux context of the gateway containers.' })),
}, {
  description: `Security context of the gateway pods (a Pod's spec.securityContext, Linux fields), merged field by field over the gateway's own: runAsUser and runAsGroup ${GATEWAY_PROXY_UID}, runAsNonRoot true. The proxy container keeps its own context (no privileges, every capability dropped, read-only root).`,
  ...celRules({
    rule: '!has(self.runAsUser) || self.runAsUser != 0 || (has(self.runAsNonRoot) && !self.runAsNonRoot)',
    message: 'runAsUser 0 (root) requires runAsNonRoot: false; gateways refuse to run as root unless told so',
    fieldPath: '.runAsNonRoot',
  }),
});

const gateway = Type.Object({
  name: DnsLabel({ description: 'Name of the gateway, unique in the list; its Deployment, Service and related objects are named after it.' }),
  kind: StringEnum(['Ingress', 'Egress'], { description: 'Ingress gateways receive traffic from outside the mesh; Egress gateways carry traffic leaving it.' }),
  namespace: Type.Optional(DnsLabel({ description: 'Namespace the gateway runs in. Unset: spec.namespace.' })),
  replicas: Type.Optional(Type.Integer({
    description: `Replicas of the gateway Deployment (0-${MAX_REPLICAS}); not allowed with autoscaling enabled. Unset: decided by the profile (more than one with ha).`,
    format: 'int32', minimum: 0, maximum: MAX_REPLICAS,
  })),
  autoscaling: Type.Optional(autoscaling),
  service: Type.Optional(gatewayService),
  resources: Type.Optional(ResourceRequirements('CPU and memory requests and limits of the gateway proxy. Unset: the profile\'s values.')),
  securityContext: Type.Optional(podSecurityContext),
  podDisruptionBudget: Type.Optional(Type.Object({
    minAvailable: Type.Optional(availabilityBound('Pods that must stay available during voluntary disruptions')),
    maxUnavailable: Type.Optional(availabilityBound('Pods that may be unavailable during voluntary disruptions')),
  }, {
    description: 'When set, a PodDisruptionBudget protects the gateway; set exactly one of minAvailable or maxUnavailable.',
    ...celRules({ rule: 'has(self.minAvailable) != has(self.maxUnavailable)', message: 'set exactly one of minAvailable or maxUnavailable' }),
  })),
}, {
  description: 'An ingress or egress gateway run by the operator.',
  ...celRules(
    {
      rule: '!has(self.replicas) || !has(self.autoscaling) || !self.autoscaling.enabled',
      message: 'replicas cannot be set when autoscaling is enabled: set autoscaling.minReplicas and maxReplicas instead',
      fieldPath: '.replicas', reason: 'FieldValueForbidden',
    },
    {
      // The Service type defaults by kind, so the rule sits here, where the kind is known.
      rule: "!has(self.service) || !has(self.service.externalTrafficPolicy) || (has(self.service.type) ? self.service.type != 'ClusterIP' : self.kind == 'Ingress')",
      messageExpression: "'externalTrafficPolicy requires service type NodePort or LoadBalancer; the Service of this gateway is ClusterIP' + (has(self.service.type) ? '' : ' (the default for Egress gateways)')",
      fieldPath: '.service.externalTrafficPolicy', reason: 'FieldValueForbidden',
    },
  ),
});

const canaryStep = Type.Object({
  namespaces: Type.Optional(namespaceList('Namespaces moved to the new revision in this step, by name.')),
  namespaceSelector: Type.Optional(LabelSelector('Namespaces moved to the new revision in this step, by label.')),
  pause: Type.Optional(Duration({ description: 'How long to wait after this step is healthy before the next one (at most 168h). Unset: no wait.', max: '168h' })),
}, {
  description: 'One step of a canary upgrade: namespaces that move to the new revision together, then a health gate.',
  ...celRules({ rule: 'has(self.namespaces) != has(self.namespaceSelector)', message: 'set exactly one of namespaces or namespaceSelector' }),
});

const upgrade = Type.Object({
  strategy: withDefault(StringEnum(['InPlace', 'Canary'], {
    description: 'InPlace: replace the control plane, then restart workloads in batches. Canary (Istio only): run the new revision side by side and move namespaces to it step by step.',
  }), 'InPlace'),
  canary: Type.Optional(Type.Object({
    steps: Type.Optional(Type.Array(canaryStep, {
      description: 'Steps in order. Enrolled namespaces not named in any step move when the canary is promoted. Unset: all namespaces move in one step.',
      maxItems: 20,
    })),
    autoPromote: withDefault(Type.Boolean({
      description: 'Promote the new revision and remove the old one once every step is healthy. false: stop there until this is set to true.',
    }), true),
  }, { description: 'The canary plan (strategy Canary only).' })),
  rollbackOnFailure: withDefault(Type.Boolean({
    description: 'Return to the previous version if the upgrade fails a health gate or misses progressDeadline.',
  }), true),
  progressDeadline: withDefault(Duration({
    description: 'How long one stage (control plane, or a batch or step of workloads) may take to become healthy before it counts as failed.',
    min: '10s', max: '24h',
  }), '10m'),
  allowDowngrade: withDefault(Type.Boolean({
    description: 'Permit spec.version to move to an older version, which is refused otherwise because downgrades can lose configuration.',
  }), false),
}, {
  description: 'How a change of spec.version is rolled out.',
  ...celRules({
    rule: "(has(self.strategy) && self.strategy == 'Canary') || !has(self.canary)",
    message: 'canary is allowed only with strategy Canary',
    fieldPath: '.canary', reason: 'FieldValueForbidden',
  }),
});

/** JSON Patch operations usable in overlays. */
export const PATCH_OPERATIONS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;

const JSON_POINTER_RULE = "self.matches('^(/([^/~]|~[01])*)+$')";
/** Patch paths that would retarget or rename the object instead of changing it. */
const PROTECTED_PATHS = ['/apiVersion', '/kind', '/metadata', '/metadata/name', '/metadata/namespace'];

const patchOperation = Type.Object({
  op: StringEnum(PATCH_OPERATIONS, { description: 'The JSON Patch (RFC 6902) operation.' }),
  path: Type.String({
    description: 'JSON Pointer (RFC 6901) to the target location, e.g. /spec/template/spec/containers/0/env/-.',
    maxLength: 512,
    ...celRules(
      { rule: JSON_POINTER_RULE, message: 'must be a JSON Pointer starting with "/", with "~" written as ~0 and "/" inside a key as ~1' },
      { rule: `!(self in [${PROTECTED_PATHS.map((path) => `'${path}'`).join(', ')}])`, message: 'must not change apiVersion, kind, metadata, metadata.name or metadata.namespace' },
    ),
  }),
  from: Type.Optional(Type.String({
    description: 'JSON Pointer to the source location (move and copy only).',
    maxLength: 512,
    ...celRules({ rule: JSON_POINTER_RULE, message: 'must be a JSON Pointer starting with "/"' }),
  })),
  // CEL cannot see untyped fields, so "value is required for add, replace and test" is checked by
  // the operator (Stalled with a message), not by the API server.
  value: Type.Optional(AnyJsonValue({
    description: 'The value to add, replace with or test for; any JSON value. Required for add, replace and test (checked by the operator, which reports Stalled when it is missing), ignored otherwise.',
  })),
}, {
  description: 'One JSON Patch operation.',
  ...celRules(
    {
      rule: "self.op in ['move', 'copy'] ? has(self.from) : !has(self.from)",
      messageExpression: "self.op in ['move', 'copy'] ? 'from is required for op ' + self.op : 'from is not allowed for op ' + self.op",
      fieldPath: '.from',
    },
  ),
});

const overlay = Type.Object({
  apiVersion: Type.String({ description: 'apiVersion of the rendered object to patch, e.g. apps/v1.', minLength: 1, maxLength: 253 }),
  kind: Type.String({ description: 'Kind of the rendered object to patch, e.g. Deployment.', minLength: 1, maxLength: 63 }),
  name: Type.String({ description: 'Name of the rendered object to patch.', minLength: 1, maxLength: 253 }),
  namespace: Type.Optional(DnsLabel({ description: 'Namespace of the rendered object; omit for cluster-scoped objects.' })),
  patches: Type.Array(patchOperation, { description: 'JSON Patch operations applied in order.', minItems: 1, maxItems: 32 }),
}, { description: 'Patches to one object the operator renders.' });

/** The TypeBox schema of MeshInstallation.spec. */
export const MeshInstallationSpecSchema = Type.Object({
  mesh: StringEnum(MESHES, {
    description: 'The mesh to install. Immutable: to switch meshes, create a new MeshInstallation and delete this one.',
    ...celRules({ rule: 'self == oldSelf', message: 'mesh is immutable: create a new MeshInstallation to switch meshes' }),
  }),
  version: Type.String({
    description: 'Mesh version to run: 1.MINOR.PATCH for Istio (e.g. 1.31.1); 2.MINOR[.PATCH] or edge-YY.M.N for Linkerd (e.g. 2.20 or edge-26.8.3). Must be in the operator\'s catalog; changing it starts an upgrade.',
    minLength: 1, maxLength: 32,
  }),
  namespace: DnsLabel({
    description: 'Namespace of the control plane, created if missing (e.g. istio-system, linkerd). Immutable.',
    ...celRules({ rule: 'self == oldSelf', message: 'namespace is immutable: the control plane cannot move; create a new MeshInstallation instead' }),
  }),
  registry: Type.Optional(Type.String({
    description: 'Registry and path the mesh images are pulled from instead of the mesh\'s own, for mirrors and air-gapped clusters, e.g. mirror.example.com/istio. Image names and tags stay those of the catalog. Unset: docker.io/istio for Istio, cr.l5d.io/linkerd for Linkerd.',
    minLength: 1, maxLength: 200,
    ...celRules({
      rule: "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$')",
      message: 'must be a registry host with an optional port and path, without a trailing slash, tag or digest, e.g. mirror.example.com/istio',
    }),
  })),
  profile: withDefault(StringEnum(PROFILES, {
    description: 'Preset of control-plane sizing and features: default, minimal (control plane only, small), demo (verbose, small), ha (replicated, spread, disruption budgets).',
  }), 'default'),
  controlPlane: Type.Optional(controlPlane),
  meshConfig: withDefault(meshConfig, {}),
  certificateAuthority: withDefault(certificateAuthority, {}),
  injection: withDefault(injection, {}),
  gateways: Type.Optional(Type.Array(gateway, {
    description: 'Ingress and egress gateways, keyed by name (Istio only).',
    maxItems: 16,
    'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
  })),
  upgrade: withDefault(upgrade, {}),
  overlays: Type.Optional(Type.Array(overlay, {
    description: 'Escape hatch: JSON patches applied to rendered objects before they are applied, in list order. Patched fields are then owned by the operator like any other.',
    maxItems: 16,
  })),
  paused: withDefault(Type.Boolean({
    description: 'Stop reconciling: nothing is created, changed, restarted or rotated until this is false again. Status keeps being reported.',
  }), false),
}, {
  description: 'Desired state of the mesh. The operator never writes spec.',
  ...celRules(
    {
      rule: `self.mesh != 'istio' || self.version.matches('${ISTIO_VERSION_PATTERN}')`,
      messageExpression: "'for mesh istio, version must be 1.MINOR.PATCH such as 1.31.1, got \"' + self.version + '\"'",
      fieldPath: '.version',
    },
    {
      rule: `self.mesh != 'linkerd' || self.version.matches('${LINKERD_VERSION_PATTERN}')`,
      messageExpression: "'for mesh linkerd, version must be stable 2.MINOR[.PATCH] such as 2.20 or 2.20.1, or edge-YY.M.N such as edge-26.8.3, got \"' + self.version + '\"'",
      fieldPath: '.version',
    },
    {
      rule: "self.mesh == 'istio' || !has(self.gateways) || size(self.gateways) == 0",
      message: 'gateways are supported only for mesh istio: Linkerd has no gateway component; mesh an ingress controller through injection instead',
      fieldPath: '.gateways', reason: 'FieldValueForbidden',
    },
    {
      rule: celMeshRestricts('linkerd', 'certificateAuthority.keyAlgorithm', "self.certificateAuthority.keyAlgorithm == 'ECDSAP256'"),
      message: 'mesh linkerd requires keyAlgorithm ECDSAP256: Linkerd identity supports only ECDSA P-256 keys',
      fieldPath: '.certificateAuthority.keyAlgorithm',
    },
    {
      rule: celMeshRestricts('linkerd', 'meshConfig.outboundTrafficPolicy', "self.meshConfig.outboundTrafficPolicy == 'ALLOW_ANY'"),
      message: 'mesh linkerd supports only ALLOW_ANY: REGISTRY_ONLY has no Linkerd equivalent',
      fieldPath: '.meshConfig.outboundTrafficPolicy',
    },
    {
      rule: celMeshForbids('linkerd', 'meshConfig.tracing.samplingPercent'),
      message: 'samplingPercent is Istio only: Linkerd proxies follow the caller\'s sampling decision; remove it',
      fieldPath: '.meshConfig.tracing.samplingPercent', reason: 'FieldValueForbidden',
    },
    {
      rule: celMeshRestricts('linkerd', 'meshConfig.tracing.collector.protocol', "self.meshConfig.tracing.collector.protocol == 'OpenTelemetry'"),
      message: 'mesh linkerd supports only collector protocol OpenTelemetry',
      fieldPath: '.meshConfig.tracing.collector.protocol',
    },
    {
      rule: celMeshRestricts('linkerd', 'upgrade.strategy', "self.upgrade.strategy == 'InPlace'"),
      message: 'mesh linkerd supports only upgrade strategy InPlace: Canary needs side-by-side revisions, which Linkerd does not have',
      fieldPath: '.upgrade.strategy',
    },
    {
      rule: `!(${celHas('injection.namespaces')}) || !(self.namespace in self.injection.namespaces)`,
      message: 'must not include the control-plane namespace (spec.namespace): the control plane is never injected',
      fieldPath: '.injection.namespaces',
    },
  ),
});

/** MeshInstallation.spec as the user writes it (fields with schema defaults may be absent). */
export type MeshInstallationSpec = Static<typeof MeshInstallationSpecSchema>;

/** MeshInstallation.spec as read from the API server, with every declared default applied. */
export type DefaultedMeshInstallationSpec = Defaulted<typeof MeshInstallationSpecSchema>;
