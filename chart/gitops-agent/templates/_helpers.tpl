{{/*
How this chart is built
=======================
"gitops-agent.config" turns the values (the predecessor's keys) into one GitOpsAgent spec, with
the GitOpsAgent CRD's defaults and cross-field rules; every mode renders from that spec:
  - gitopsagent: the spec itself, in a GitOpsAgent for the operator;
  - deployment:  the same children the operator renders from that spec (tests/chart compares
                 them with `gitops-agent-operator render` of the chart's own GitOpsAgent);
  - mcpserver:   a kmcp MCPServer running the same server command line, plus the children kmcp
                 does not create.
*/}}

{{/* Chart name (nameOverride wins). */}}
{{- define "gitops-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The agent's name: it names the GitOpsAgent and every child. At most 47 characters, as the
CRD requires, so that derived names such as <name>-tls stay valid. */}}
{{- define "gitops-agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 47 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of the chart's own objects (deploymentMode deployment, and the extras of the other modes). */}}
{{- define "gitops-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gitops-agent.commonLabels" . }}
{{- end -}}

{{/* Labels without the chart version (pod templates: a chart bump alone does not roll pods). */}}
{{- define "gitops-agent.commonLabels" -}}
app.kubernetes.io/name: {{ include "gitops-agent.name" . }}
app.kubernetes.io/instance: {{ include "gitops-agent.fullname" . }}
{{- $tag := include "gitops-agent.tag" . }}
{{- if regexMatch "^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$" $tag }}
app.kubernetes.io/version: {{ $tag | quote }}
{{- end }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: gitops-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Image tag of the chart-rendered modes: image.tag, else the chart's appVersion. */}}
{{- define "gitops-agent.tag" -}}
{{- default .Chart.AppVersion (toString (.Values.image.tag | default "")) -}}
{{- end -}}

{{/* Fails the render when a GitOpsAgent-backed setting cannot hold; the messages name values keys. */}}
{{- define "gitops-agent.require" -}}
{{- if not (index . 0) }}{{ fail (index . 1) }}{{ end -}}
{{- end -}}

{{/*
The whole configuration, as YAML (consumers: `include "gitops-agent.config" . | fromYaml`):
  name, namespace, mode, image, containerPort, publicURL, selector, podSelector,
  spec (the GitOpsAgent spec), tools (effective tool names), warnings (values a mode ignores).
*/}}
{{- define "gitops-agent.config" -}}
{{- $v := .Values -}}
{{- $mode := $v.deploymentMode -}}
{{- $name := include "gitops-agent.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $warnings := list -}}

{{- /* ---- names ---- */ -}}
{{- include "gitops-agent.require" (list (le (len $name) 47) (printf "the agent's name %q is longer than 47 characters (GitOpsAgent names must be, so that <name>-tls stays valid): set fullnameOverride" $name)) -}}
{{- include "gitops-agent.require" (list (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name) (printf "the agent's name %q must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter): set fullnameOverride" $name)) -}}

{{- /* ---- image ---- */ -}}
{{- $tag := toString ($v.image.tag | default "") -}}
{{- $image := dict "repository" $v.image.repository "pullPolicy" $v.image.pullPolicy -}}
{{- if $tag }}{{ $_ := set $image "tag" $tag }}{{ end -}}
{{- if $v.image.digest }}{{ $_ := set $image "digest" $v.image.digest }}{{ end -}}
{{- $imageRef := printf "%s:%s" $v.image.repository (include "gitops-agent.tag" .) -}}
{{- if $v.image.digest }}{{ $imageRef = printf "%s@%s" $v.image.repository $v.image.digest }}{{ end -}}
{{- $pullSecrets := list -}}
{{- range $v.imagePullSecrets -}}
{{- if kindIs "string" . }}{{ $pullSecrets = append $pullSecrets (dict "name" .) }}{{ else }}{{ $pullSecrets = append $pullSecrets (dict "name" .name) }}{{ end -}}
{{- end -}}

{{- /* ---- ports ---- */ -}}
{{- $port := int $v.a2a.port -}}
{{- $servicePort := int $v.service.port -}}
{{- if and (ne $mode "deployment") (ne $port $servicePort) -}}
{{- fail (printf "service.port (%d) and a2a.port (%d) differ: in deploymentMode %s the agent's Service exposes the port the server listens on; set both to the same value (or use deploymentMode deployment)" $servicePort $port $mode) -}}
{{- end -}}
{{- if not (kindIs "invalid" $v.service.targetPort) -}}
{{- include "gitops-agent.require" (list (eq (int $v.service.targetPort) $port) (printf "service.targetPort (%v) must equal a2a.port (%d): the Service targets the container port named http, where the server listens" $v.service.targetPort $port)) -}}
{{- end -}}
{{- $m := $v.mcpServer.metrics -}}
{{- if $m.enabled -}}
{{- include "gitops-agent.require" (list (and (ne (int $m.port) $port) (ne (int $m.port) $servicePort)) "mcpServer.metrics.port must differ from service.port and a2a.port") -}}
{{- end -}}
{{- include "gitops-agent.require" (list (or (not $m.serviceMonitor.enabled) $m.enabled) "mcpServer.metrics.serviceMonitor.enabled needs mcpServer.metrics.enabled") -}}

{{- /* ---- route, TLS, public URL ---- */ -}}
{{- $r := $v.httpRoute -}}
{{- $hosts := list -}}
{{- if $r.hostname }}{{ $hosts = append $hosts $r.hostname }}{{ end -}}
{{- range $r.hostnames }}{{ if not (has . $hosts) }}{{ $hosts = append $hosts . }}{{ end }}{{ end -}}
{{- $route := dict "enabled" $r.enabled -}}
{{- if $hosts }}{{ $_ := set $route "hostnames" $hosts }}{{ end -}}
{{- if $r.parentRefs }}{{ $_ := set $route "parentRefs" $r.parentRefs }}{{ end -}}
{{- if $r.annotations }}{{ $_ := set $route "annotations" $r.annotations }}{{ end -}}
{{- if $r.enabled -}}
{{- include "gitops-agent.require" (list $hosts "httpRoute.enabled needs at least one hostname: httpRoute.hostname or httpRoute.hostnames") -}}
{{- include "gitops-agent.require" (list $r.parentRefs "httpRoute.enabled needs at least one entry in httpRoute.parentRefs (the Gateway to attach to)") -}}
{{- end -}}
{{- $t := $v.tls -}}
{{- include "gitops-agent.require" (list (not (and $t.clusterIssuer $t.issuer)) "tls.clusterIssuer and tls.issuer are exclusive: name a ClusterIssuer or a namespaced Issuer") -}}
{{- $tls := dict "enabled" $t.enabled -}}
{{- if $t.secretName }}{{ $_ := set $tls "secretName" $t.secretName }}{{ end -}}
{{- if $t.clusterIssuer }}{{ $_ := set $tls "issuerRef" (dict "name" $t.clusterIssuer "kind" "ClusterIssuer") }}{{ end -}}
{{- if $t.issuer }}{{ $_ := set $tls "issuerRef" (dict "name" $t.issuer "kind" "Issuer") }}{{ end -}}
{{- $cci := dict "enabled" $t.createClusterIssuer "acmeServer" $t.acmeServer "selfSigned" $t.selfSigned -}}
{{- if $t.acmeEmail }}{{ $_ := set $cci "acmeEmail" $t.acmeEmail }}{{ end -}}
{{- $_ := set $tls "createClusterIssuer" $cci -}}
{{- if $t.enabled -}}
{{- include "gitops-agent.require" (list (or $t.secretName $t.clusterIssuer $t.issuer) "tls.enabled needs tls.secretName (an existing certificate Secret) or tls.clusterIssuer / tls.issuer (a cert-manager issuer)") -}}
{{- include "gitops-agent.require" (list (or (not (or $t.clusterIssuer $t.issuer)) $r.enabled) "tls.clusterIssuer / tls.issuer issue a certificate for the HTTPRoute's hostnames, so they need httpRoute.enabled") -}}
{{- end -}}
{{- if $t.createClusterIssuer -}}
{{- include "gitops-agent.require" (list (and $t.enabled $t.clusterIssuer) "tls.createClusterIssuer needs tls.enabled and tls.clusterIssuer (the name of the ClusterIssuer to create)") -}}
{{- include "gitops-agent.require" (list (or $t.selfSigned $t.acmeEmail) "tls.createClusterIssuer needs tls.acmeEmail for ACME, or tls.selfSigned: true") -}}
{{- end -}}
{{- $publicURL := "" -}}
{{- if and $r.enabled $hosts }}{{ $publicURL = printf "%s://%s" (ternary "https" "http" (and $t.enabled true)) (first $hosts) }}{{ end -}}

{{- /* ---- environment: a2a.baseURL without a route becomes GITOPS_AGENT_BASE_URL ---- */ -}}
{{- $extraEnv := list -}}
{{- $baseURL := trimSuffix "/" ($v.a2a.baseURL | default "") -}}
{{- if $baseURL -}}
{{- if $publicURL -}}
{{- include "gitops-agent.require" (list (eq $baseURL $publicURL) (printf "a2a.baseURL (%s) differs from the public URL the HTTPRoute gives (%s, from the first hostname and tls.enabled): drop a2a.baseURL or make it that URL" $baseURL $publicURL)) -}}
{{- else -}}
{{- $userNames := list -}}
{{- range $v.extraEnv }}{{ $userNames = append $userNames .name }}{{ end -}}
{{- if not (has "GITOPS_AGENT_BASE_URL" $userNames) }}{{ $extraEnv = append $extraEnv (dict "name" "GITOPS_AGENT_BASE_URL" "value" $baseURL) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $v.extraEnv }}{{ $extraEnv = append $extraEnv . }}{{ end -}}

{{- /* ---- tracing, PDB, autoscaling ---- */ -}}
{{- $tr := $v.mcpServer.tracing -}}
{{- $tracing := dict "enabled" $tr.enabled "samplingPercentage" (int ($tr.samplingPercentage | default 0)) -}}
{{- if kindIs "invalid" $tr.samplingPercentage }}{{ $_ := set $tracing "samplingPercentage" 100 }}{{ end -}}
{{- if $tr.endpoint }}{{ $_ := set $tracing "endpoint" $tr.endpoint }}{{ end -}}
{{- include "gitops-agent.require" (list (or (not $tr.enabled) $tr.endpoint) "mcpServer.tracing.enabled needs mcpServer.tracing.endpoint (the OTLP gRPC endpoint, e.g. http://otel-collector.observability:4317)") -}}
{{- $p := $v.mcpServer.pdb -}}
{{- $pdb := dict "enabled" $p.enabled -}}
{{- if not (kindIs "invalid" $p.maxUnavailable) }}{{ $_ := set $pdb "maxUnavailable" $p.maxUnavailable }}{{ else if not (kindIs "invalid" $p.minAvailable) }}{{ $_ := set $pdb "minAvailable" $p.minAvailable }}{{ end -}}
{{- include "gitops-agent.require" (list (or (not $p.enabled) (hasKey $pdb "minAvailable") (hasKey $pdb "maxUnavailable")) "mcpServer.pdb.enabled needs mcpServer.pdb.minAvailable or mcpServer.pdb.maxUnavailable") -}}
{{- $a := $v.mcpServer.autoscaling -}}
{{- $autoscaling := dict "enabled" $a.enabled "minReplicas" (int $a.minReplicas) "maxReplicas" (int $a.maxReplicas) -}}
{{- if not (kindIs "invalid" $a.targetCPUUtilizationPercentage) }}{{ $_ := set $autoscaling "targetCPUUtilizationPercentage" (int $a.targetCPUUtilizationPercentage) }}{{ end -}}
{{- if not (kindIs "invalid" $a.targetMemoryUtilizationPercentage) }}{{ $_ := set $autoscaling "targetMemoryUtilizationPercentage" (int $a.targetMemoryUtilizationPercentage) }}{{ end -}}
{{- include "gitops-agent.require" (list (or (not $a.enabled) (le (int $a.minReplicas) (int $a.maxReplicas))) "mcpServer.autoscaling.minReplicas must be less than or equal to mcpServer.autoscaling.maxReplicas") -}}

{{- /* ---- network policy: the predecessor's egress rules become peers or API server CIDRs ---- */ -}}
{{- $np := $v.networkPolicy -}}
{{- $egressTo := list -}}
{{- $cidrs := list -}}
{{- range $np.apiServerCIDRs }}{{ $cidrs = append $cidrs . }}{{ end -}}
{{- $apiAny := false -}}
{{- range $i, $e := $np.egressTo -}}
{{- if or (hasKey $e "to") (hasKey $e "ports") -}}
{{- $peers := $e.to | default list -}}
{{- if $e.ports -}}
{{- $apiOnly := true -}}
{{- range $e.ports }}{{ if or (not (has (int .port) (list 443 6443))) (and .protocol (ne .protocol "TCP")) .endPort }}{{ $apiOnly = false }}{{ end }}{{ end -}}
{{- range $peers }}{{ if or (not (hasKey . "ipBlock")) (gt (len (keys .)) 1) .ipBlock.except }}{{ $apiOnly = false }}{{ end }}{{ end -}}
{{- include "gitops-agent.require" (list (and $apiOnly $peers) (printf "networkPolicy.egressTo[%d] is an egress rule with ports: the agent's NetworkPolicy takes extra destinations as peers (ipBlock, namespaceSelector, podSelector) allowed on every port, and API server addresses as networkPolicy.apiServerCIDRs (ports 443/6443); list peers instead" $i)) -}}
{{- range $peers -}}
{{- if has .ipBlock.cidr (list "0.0.0.0/0" "::/0") }}{{ $apiAny = true }}{{ else if not (has .ipBlock.cidr $cidrs) }}{{ $cidrs = append $cidrs .ipBlock.cidr }}{{ end -}}
{{- end -}}
{{- else -}}
{{- include "gitops-agent.require" (list $peers (printf "networkPolicy.egressTo[%d] is an egress rule without peers or ports (it would allow all egress); list the destinations as peers" $i)) -}}
{{- range $peers }}{{ $egressTo = append $egressTo . }}{{ end -}}
{{- end -}}
{{- else -}}
{{- $egressTo = append $egressTo $e -}}
{{- end -}}
{{- end -}}
{{- if $apiAny }}{{ $cidrs = list }}{{ end -}}
{{- $netpol := dict "enabled" $np.enabled -}}
{{- if $np.ingressFrom }}{{ $_ := set $netpol "ingressFrom" $np.ingressFrom }}{{ end -}}
{{- if $np.metricsFrom }}{{ $_ := set $netpol "metricsFrom" $np.metricsFrom }}{{ end -}}
{{- if $egressTo }}{{ $_ := set $netpol "egressTo" $egressTo }}{{ end -}}
{{- if $cidrs }}{{ $_ := set $netpol "apiServerCIDRs" $cidrs }}{{ end -}}

{{- /* ---- tools and write access ---- */ -}}
{{- $te := $v.tools.enabled | default list -}}
{{- $td := $v.tools.disabled | default list -}}
{{- range $te }}{{ if has . $td }}{{ fail "tools.enabled and tools.disabled must not name the same tool" }}{{ end }}{{ end -}}
{{- include "gitops-agent.require" (list (or $v.a2a.readOnly $v.rbac.create) "a2a.readOnly: false grants write access through the chart's RBAC, so it needs rbac.create: true") -}}
{{- $catalogue := .Files.Get "files/tools.yaml" | fromYaml -}}
{{- $effective := list -}}
{{- range $catalogue.tools -}}
{{- if and (or (not $te) (has .name $te)) (not (has .name $td)) (not (and $v.a2a.readOnly .mutating)) }}{{ $effective = append $effective .name }}{{ end -}}
{{- end -}}
{{- $tools := dict -}}
{{- if $te }}{{ $_ := set $tools "enabled" $te }}{{ end -}}
{{- if $td }}{{ $_ := set $tools "disabled" $td }}{{ end -}}

{{- /* ---- service account ---- */ -}}
{{- $sa := dict "create" $v.serviceAccount.create -}}
{{- if $v.serviceAccount.name }}{{ $_ := set $sa "name" $v.serviceAccount.name }}{{ end -}}
{{- if $v.serviceAccount.annotations }}{{ $_ := set $sa "annotations" $v.serviceAccount.annotations }}{{ end -}}
{{- include "gitops-agent.require" (list (or $v.serviceAccount.create $v.serviceAccount.name) "serviceAccount.create: false needs serviceAccount.name (an existing ServiceAccount)") -}}

{{- /* ---- A2A task store ---- */ -}}
{{- $tsv := $v.a2a.taskStore | default dict -}}
{{- $redisv := $tsv.redis | default dict -}}
{{- $taskStore := dict "type" ($tsv.type | default "Memory") "maxTasks" (int ($tsv.maxTasks | default 1000)) "ttlSeconds" (int ($tsv.ttlSeconds | default 3600)) -}}
{{- if eq $taskStore.type "Redis" -}}
{{- $redis := dict -}}
{{- if $redisv.url }}{{ $_ := set $redis "url" $redisv.url }}{{ end -}}
{{- if $redisv.urlSecretRef }}{{ $_ := set $redis "urlSecretRef" $redisv.urlSecretRef }}{{ end -}}
{{- include "gitops-agent.require" (list (ne (len $redis) 0) "a2a.taskStore.type Redis needs exactly one of a2a.taskStore.redis.url and a2a.taskStore.redis.urlSecretRef") -}}
{{- include "gitops-agent.require" (list (eq (len $redis) 1) "a2a.taskStore.type Redis needs exactly one of a2a.taskStore.redis.url and a2a.taskStore.redis.urlSecretRef") -}}
{{- if $redisv.urlSecretRef }}{{ include "gitops-agent.require" (list (ne $mode "mcpserver") "a2a.taskStore.redis.urlSecretRef needs an environment variable from a Secret, which a kmcp MCPServer cannot carry; use a2a.taskStore.redis.url or deploymentMode gitopsagent") }}{{ end -}}
{{- $_ := set $taskStore "redis" $redis -}}
{{- else -}}
{{- include "gitops-agent.require" (list (not (or $redisv.url $redisv.urlSecretRef)) "a2a.taskStore.redis is only read when a2a.taskStore.type is Redis") -}}
{{- end -}}

{{- /* ---- A2A push notifications ---- */ -}}
{{- $pushv := $v.a2a.pushNotifications | default dict -}}
{{- $push := dict "enabled" (ternary $pushv.enabled true (hasKey $pushv "enabled")) -}}
{{- with $pushv.allowHosts }}{{ $_ := set $push "allowHosts" . }}{{ end -}}
{{- with $pushv.signingKeySecretRef }}{{ $_ := set $push "signingKeySecretRef" . }}{{ end -}}

{{- /* ---- the key sealing 2026-07-28 confirmations, shared by the replicas ---- */ -}}
{{- $confirmKey := $v.a2a.confirmationKeySecretRef | default dict -}}
{{- if $confirmKey -}}
{{- include "gitops-agent.require" (list (and $confirmKey.name $confirmKey.key) "a2a.confirmationKeySecretRef needs both name and key (a key of a Secret in the release namespace)") -}}
{{- include "gitops-agent.require" (list (ne $mode "mcpserver") "a2a.confirmationKeySecretRef needs an environment variable from a Secret, which a kmcp MCPServer cannot carry; use deploymentMode gitopsagent or deployment") -}}
{{- end -}}

{{- /* ---- caller authentication ---- */ -}}
{{- $authv := $v.auth | default dict -}}
{{- $auth := dict "mode" ($authv.mode | default "Kubernetes") -}}
{{- with $authv.issuers }}{{ $_ := set $auth "issuers" . }}{{ end -}}
{{- with $authv.audiences }}{{ $_ := set $auth "audiences" . }}{{ end -}}

{{- /* ---- fleet: explicit targets only (Helm cannot follow CAPI Clusters) ---- */ -}}
{{- $cv := $v.clusters | default dict -}}
{{- $local := ternary true $cv.local (kindIs "invalid" $cv.local) -}}
{{- $targets := list -}}
{{- $targetNames := list -}}
{{- range $i, $t := ($cv.targets | default list) -}}
{{- include "gitops-agent.require" (list (and (kindIs "string" $t.name) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" ($t.name | default "")) (le (len ($t.name | default "")) 63)) (printf "clusters.targets[%d].name must be a DNS-1123 label (lowercase letters, digits and '-')" $i)) -}}
{{- include "gitops-agent.require" (list (ne $t.name "local") "clusters.targets[].name must not be 'local': that name is the cluster the agent runs in (clusters.local)") -}}
{{- include "gitops-agent.require" (list (not (has $t.name $targetNames)) "clusters.targets must not name a cluster twice") -}}
{{- $targetNames = append $targetNames $t.name -}}
{{- $target := dict "name" $t.name -}}
{{- with $t.secretRef -}}
{{- $ref := dict "key" (.key | default "value") -}}
{{- with .name }}{{ $_ := set $ref "name" . }}{{ end -}}
{{- $_ := set $target "secretRef" $ref -}}
{{- end -}}
{{- $targets = append $targets $target -}}
{{- end -}}
{{- include "gitops-agent.require" (list (or $local $targets) "clusters needs at least one source: local: true or an entry in clusters.targets") -}}

{{- /* ---- the GitOpsAgent spec ---- */ -}}
{{- $service := dict "type" $v.service.type "port" $servicePort -}}
{{- if $v.service.annotations }}{{ $_ := set $service "annotations" $v.service.annotations }}{{ end -}}
{{- $metrics := dict "enabled" $m.enabled "port" (int $m.port) "path" $m.path "serviceMonitor" (dict "enabled" $m.serviceMonitor.enabled "interval" $m.serviceMonitor.interval) -}}
{{- if $m.serviceMonitor.labels }}{{ $_ := set $metrics.serviceMonitor "labels" $m.serviceMonitor.labels }}{{ end -}}
{{- $spec := dict
    "image" $image
    "replicas" (int $v.replicaCount)
    "readOnly" $v.a2a.readOnly
    "logLevel" $v.a2a.logLevel
    "logFormat" $v.a2a.logFormat
    "service" $service
    "httpRoute" $route
    "tls" $tls
    "resources" $v.resources
    "podSecurityContext" $v.podSecurityContext
    "securityContext" $v.securityContext
    "serviceAccount" $sa
    "rbac" (dict "create" $v.rbac.create)
    "metrics" $metrics
    "tracing" $tracing
    "pdb" $pdb
    "autoscaling" $autoscaling
    "networkPolicy" $netpol
    "tools" $tools
    "a2a" (dict "taskStore" $taskStore "pushNotifications" $push)
    "auth" $auth
-}}
{{- if $pullSecrets }}{{ $_ := set $spec "imagePullSecrets" $pullSecrets }}{{ end -}}
{{- if $confirmKey }}{{ $_ := set $spec "confirmationKeySecretRef" $confirmKey }}{{ end -}}
{{- range $key := list "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" "podAnnotations" "podLabels" "priorityClassName" "extraVolumes" "extraVolumeMounts" "watchNamespaces" -}}
{{- with index $v $key }}{{ $_ := set $spec $key . }}{{ end -}}
{{- end -}}
{{- if $extraEnv }}{{ $_ := set $spec "extraEnv" $extraEnv }}{{ end -}}
{{- if or $targets (not $local) }}{{ $_ := set $spec "clusters" (dict "local" $local "targets" $targets) }}{{ end -}}

{{- /* ---- what each mode cannot carry ---- */ -}}
{{- if and (eq $mode "mcpserver") (include "gitops-agent.sessionAffinity" $spec) -}}
{{- $warnings = append $warnings "a2a.taskStore.type Memory with more than one replica: kmcp's Service has no session affinity, so an A2A client may ask a pod that does not hold its task; set a2a.taskStore.type Redis" -}}
{{- end -}}
{{- if ne $mode "deployment" -}}
{{- range $key := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- if index $v $key }}{{ $warnings = append $warnings (printf "%s is ignored in deploymentMode %s: %s" $key $mode (ternary "the operator sets the probes (/healthz, /readyz)" "a kmcp MCPServer has no probe fields" (eq $mode "gitopsagent"))) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if $v.mcpServer.a2a.agentCard -}}
{{- $warnings = append $warnings "mcpServer.a2a.agentCard is ignored: the server builds its agent card (/.well-known/agent-card.json) from its tools" -}}
{{- end -}}
{{- if eq $mode "mcpserver" -}}
{{- range $key := list "topologySpreadConstraints" "priorityClassName" -}}
{{- if index $v $key }}{{ $warnings = append $warnings (printf "%s is ignored in deploymentMode mcpserver: the kmcp MCPServer has no such field" $key) }}{{ end -}}
{{- end -}}
{{- if or (ne $v.service.type "ClusterIP") $v.service.annotations -}}
{{- $warnings = append $warnings "service.type and service.annotations are ignored in deploymentMode mcpserver: kmcp creates a ClusterIP Service of its own" -}}
{{- end -}}
{{- if $a.enabled -}}
{{- $warnings = append $warnings "mcpServer.autoscaling: kmcp writes spec.deployment.replicas back to its Deployment on every reconcile and may undo the HorizontalPodAutoscaler's scaling; prefer deploymentMode gitopsagent for autoscaling" -}}
{{- end -}}
{{- range $i, $e := $extraEnv -}}
{{- include "gitops-agent.require" (list (hasKey $e "value") (printf "extraEnv entry %s has no value: a kmcp MCPServer takes environment variables as name: value pairs only (no valueFrom); use deploymentMode gitopsagent or deployment" $e.name)) -}}
{{- end -}}
{{- end -}}
{{- if eq $mode "deployment" -}}
{{- with $v.mcpServer.annotations }}{{ $warnings = append $warnings "mcpServer.annotations is ignored in deploymentMode deployment (it annotates the GitOpsAgent or MCPServer resource)" }}{{ end -}}
{{- end -}}

{{- $selector := dict "app.kubernetes.io/name" (include "gitops-agent.name" .) "app.kubernetes.io/instance" $name -}}
{{- $podSelector := $selector -}}
{{- if eq $mode "mcpserver" }}{{ $podSelector = dict "app.kubernetes.io/name" $name "app.kubernetes.io/instance" $name }}{{ end -}}
{{- toYaml (dict
    "name" $name
    "namespace" $ns
    "mode" $mode
    "image" $imageRef
    "containerPort" $port
    "publicURL" $publicURL
    "selector" $selector
    "podSelector" $podSelector
    "spec" $spec
    "tools" $effective
    "warnings" $warnings
) -}}
{{- end -}}

{{/* Loads the configuration into a dict; fails loudly if it is not valid YAML. */}}
{{- define "gitops-agent.load" -}}
{{- $c := include "gitops-agent.config" . | fromYaml -}}
{{- if hasKey $c "Error" }}{{ fail (printf "internal error: gitops-agent.config is not YAML: %s" $c.Error) }}{{ end -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The agent server's command line, as the operator renders it. Argument: the config dict. */}}
{{- define "gitops-agent.args" -}}
{{- $s := .spec -}}
{{- $args := list "serve" "--transport=http" (printf "--port=%d" (int .containerPort)) (printf "--read-only=%t" $s.readOnly) (printf "--log-level=%s" $s.logLevel) (printf "--log-format=%s" $s.logFormat) -}}
{{- if $s.metrics.enabled -}}
{{- $args = append $args (printf "--metrics-port=%d" (int $s.metrics.port)) -}}
{{- if ne $s.metrics.path "/metrics" }}{{ $args = append $args (printf "--metrics-path=%s" $s.metrics.path) }}{{ end -}}
{{- else -}}
{{- $args = append $args "--metrics-port=0" -}}
{{- end -}}
{{- with $s.watchNamespaces }}{{ $args = append $args (printf "--watch-namespaces=%s" (join "," .)) }}{{ end -}}
{{- if or $s.tools.enabled $s.tools.disabled }}{{ $args = append $args (printf "--tools=%s" (join "," .tools)) }}{{ end -}}
{{- with .publicURL }}{{ $args = append $args (printf "--base-url=%s" .) }}{{ end -}}
{{- if eq $s.auth.mode "None" -}}
{{- $args = concat $args (list "--auth=none" "--allow-unauthenticated") -}}
{{- else -}}
{{- $args = append $args "--auth=kubernetes" -}}
{{- end -}}
{{- with $s.auth.issuers }}{{ $args = append $args (printf "--auth-issuers=%s" (join "," .)) }}{{ end -}}
{{- with $s.auth.audiences }}{{ $args = append $args (printf "--auth-audiences=%s" (join "," .)) }}{{ end -}}
{{- with $s.clusters -}}
{{- if .targets }}{{ $args = append $args "--clusters-dir=/etc/gitops-agent/clusters" }}{{ end -}}
{{- if not .local }}{{ $args = append $args "--local-cluster=false" }}{{ end -}}
{{- end -}}
{{- $ts := $s.a2a.taskStore -}}
{{- with $ts.redis }}{{ with .url }}{{ $args = append $args (printf "--task-store=%s" .) }}{{ end }}{{ end -}}
{{- if ne (int $ts.maxTasks) 1000 }}{{ $args = append $args (printf "--task-max=%d" (int $ts.maxTasks)) }}{{ end -}}
{{- if ne (int $ts.ttlSeconds) 3600 }}{{ $args = append $args (printf "--task-ttl-seconds=%d" (int $ts.ttlSeconds)) }}{{ end -}}
{{- $push := $s.a2a.pushNotifications -}}
{{- if not $push.enabled -}}
{{- $args = append $args "--a2a-push=false" -}}
{{- else -}}
{{- with $push.allowHosts }}{{ $args = append $args (printf "--a2a-push-allow-hosts=%s" (join "," .)) }}{{ end -}}
{{- if $push.signingKeySecretRef }}{{ $args = append $args "--a2a-push-signing-key=/etc/gitops-agent/push/signing-key.pem" }}{{ end -}}
{{- end -}}
{{- toYaml $args -}}
{{- end -}}

{{/* The pod's own volumes, as the operator renders them: /tmp, with cluster targets one
read-only projected volume with a kubeconfig file per cluster (file name = cluster name; mode 0440,
read through the pod's fsGroup), and the push notification signing key from its Secret. Argument:
the spec. */}}
{{- define "gitops-agent.builtinVolumes" -}}
{{- $volumes := list (dict "name" "tmp" "emptyDir" (dict "sizeLimit" "64Mi")) -}}
{{- with .clusters }}{{ with .targets -}}
{{- $sources := list -}}
{{- $names := list -}}
{{- range . }}{{ $names = append $names .name }}{{ end -}}
{{- range (sortAlpha $names) -}}
{{- $name := . -}}
{{- range $.clusters.targets }}{{ if eq .name $name -}}
{{- $ref := .secretRef | default dict -}}
{{- $item := dict "key" ($ref.key | default "value") "path" .name "mode" 288 -}}
{{- $sources = append $sources (dict "secret" (dict "name" ($ref.name | default (printf "%s-kubeconfig" .name)) "items" (list $item) "optional" false)) -}}
{{- end }}{{ end -}}
{{- end -}}
{{- $volumes = append $volumes (dict "name" "clusters" "projected" (dict "defaultMode" 288 "sources" $sources)) -}}
{{- end }}{{ end -}}
{{- with .a2a.pushNotifications }}{{ if and .enabled .signingKeySecretRef -}}
{{- $item := dict "key" .signingKeySecretRef.key "path" "signing-key.pem" "mode" 288 -}}
{{- $volumes = append $volumes (dict "name" "push-signing-key" "secret" (dict "secretName" .signingKeySecretRef.name "items" (list $item) "optional" false)) -}}
{{- end }}{{ end -}}
{{- toYaml $volumes -}}
{{- end -}}

{{/* The agent container's own mounts, matching gitops-agent.builtinVolumes. Argument: the spec. */}}
{{- define "gitops-agent.builtinMounts" -}}
{{- $mounts := list (dict "name" "tmp" "mountPath" "/tmp") -}}
{{- with .clusters }}{{ if .targets }}{{ $mounts = append $mounts (dict "name" "clusters" "mountPath" "/etc/gitops-agent/clusters" "readOnly" true) }}{{ end }}{{ end -}}
{{- with .a2a.pushNotifications }}{{ if and .enabled .signingKeySecretRef }}{{ $mounts = append $mounts (dict "name" "push-signing-key" "mountPath" "/etc/gitops-agent/push" "readOnly" true) }}{{ end }}{{ end -}}
{{- toYaml $mounts -}}
{{- end -}}

{{/* What the server reads from Secrets through its environment, as the operator renders it: the
Redis URL and the confirmation key. Argument: the config dict. */}}
{{- define "gitops-agent.secretEnv" -}}
{{- $env := list -}}
{{- with .spec.a2a.taskStore.redis }}{{ with .urlSecretRef }}{{ $env = append $env (dict "name" "GITOPS_AGENT_TASK_STORE" "valueFrom" (dict "secretKeyRef" .)) }}{{ end }}{{ end -}}
{{- with .spec.confirmationKeySecretRef }}{{ $env = append $env (dict "name" "GITOPS_AGENT_REQUEST_STATE_KEY" "valueFrom" (dict "secretKeyRef" .)) }}{{ end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Whether clients must stay on one pod: several replicas keeping A2A tasks in memory. Argument: the spec. */}}
{{- define "gitops-agent.sessionAffinity" -}}
{{- if and (eq .a2a.taskStore.type "Memory") (or (gt (int .replicas) 1) .autoscaling.enabled) }}ClientIP{{ end -}}
{{- end -}}

{{/* OTLP environment of the server when tracing, as the operator renders it. Argument: the config dict. */}}
{{- define "gitops-agent.tracingEnv" -}}
{{- $env := list -}}
{{- $tr := .spec.tracing -}}
{{- if and $tr.enabled $tr.endpoint -}}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" $tr.endpoint) -}}
{{- $env = append $env (dict "name" "OTEL_SERVICE_NAME" "value" (printf "gitops-agent.%s.%s" .namespace .name)) -}}
{{- $env = append $env (dict "name" "OTEL_TRACES_SAMPLER" "value" "parentbased_traceidratio") -}}
{{- $env = append $env (dict "name" "OTEL_TRACES_SAMPLER_ARG" "value" (printf "%.2f" (divf (int $tr.samplingPercentage) 100))) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Built-in entries with user entries of the same key replacing them in place and new ones
appended (server-side apply refuses a list holding a key twice). Argument: dict builtin, extra, key. */}}
{{- define "gitops-agent.mergeByKey" -}}
{{- $key := .key -}}
{{- $order := list -}}
{{- $byKey := dict -}}
{{- range (concat .builtin .extra) -}}
{{- $k := toString (index . $key) -}}
{{- if not (hasKey $byKey $k) }}{{ $order = append $order $k }}{{ end -}}
{{- $_ := set $byKey $k . -}}
{{- end -}}
{{- $out := list -}}
{{- range $order }}{{ $out = append $out (index $byKey .) }}{{ end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Minimum replica count (the HPA's floor when autoscaling). Argument: the spec. */}}
{{- define "gitops-agent.minReplicas" -}}
{{- if .autoscaling.enabled }}{{ .autoscaling.minReplicas | int }}{{ else }}{{ .replicas | int }}{{ end -}}
{{- end -}}

{{/* Default anti-affinity: pods prefer distinct nodes. Argument: a label selector map. */}}
{{- define "gitops-agent.antiAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        labelSelector:
          matchLabels:
            {{- toYaml . | nindent 12 }}
        topologyKey: kubernetes.io/hostname
{{- end -}}

{{/* The port of an OTLP endpoint URL: explicit, or the scheme's default (4317 for http, 443 for https). */}}
{{/* The Redis task store's port (the URL's, else 6379), as the operator renders it; empty for the memory store. Argument: a2a.taskStore. */}}
{{- define "gitops-agent.redisPort" -}}
{{- if eq .type "Redis" -}}
{{- $url := "" }}{{ with .redis }}{{ $url = .url | default "" }}{{ end -}}
{{- $authority := first (splitList "/" (trimPrefix "redis://" $url)) -}}
{{- if and (contains ":" $authority) (regexMatch "^[0-9]+$" (last (splitList ":" $authority))) }}{{ last (splitList ":" $authority) }}{{ else }}6379{{ end -}}
{{- end -}}
{{- end -}}

{{- define "gitops-agent.otlpPort" -}}
{{- $parts := splitn "://" 2 . -}}
{{- $scheme := ternary $parts._0 "http" (contains "://" .) -}}
{{- $rest := ternary $parts._1 . (contains "://" .) -}}
{{- $authority := first (splitList "/" $rest) -}}
{{- if contains ":" $authority -}}
{{- $p := last (splitList ":" $authority) -}}
{{- if and (regexMatch "^[0-9]+$" $p) (ge (int $p) 1) (le (int $p) 65535) }}{{ int $p }}{{ else }}{{ fail (printf "mcpServer.tracing.endpoint: port %q of %q is not a number from 1 to 65535" $p .) }}{{ end -}}
{{- else if eq $scheme "https" -}}
443
{{- else -}}
4317
{{- end -}}
{{- end -}}

{{/*
RBAC rules for a list of reads and patches ({group, resources}), merged as the operator does: one
get/list/watch rule per API group (groups and resources sorted), subresources get only, then one
patch rule per group. Argument: dict "reads" "patches". Output: a YAML list.
*/}}
{{- define "gitops-agent.rules" -}}
{{- $byGroup := dict -}}
{{- $sub := dict -}}
{{- range .reads -}}
{{- $g := .group -}}
{{- range .resources -}}
{{- if contains "/" . -}}
{{- $_ := set $sub $g (append (get $sub $g | default list) .) -}}
{{- else -}}
{{- $_ := set $byGroup $g (append (get $byGroup $g | default list) .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $patch := dict -}}
{{- range .patches -}}
{{- $g := .group -}}
{{- range .resources }}{{ $_ := set $patch $g (append (get $patch $g | default list) .) }}{{ end -}}
{{- end -}}
{{- $rules := list -}}
{{- range $g := keys $byGroup | sortAlpha }}{{ $rules = append $rules (dict "apiGroups" (list $g) "resources" (get $byGroup $g | uniq | sortAlpha) "verbs" (list "get" "list" "watch")) }}{{ end -}}
{{- range $g := keys $sub | sortAlpha }}{{ $rules = append $rules (dict "apiGroups" (list $g) "resources" (get $sub $g | uniq | sortAlpha) "verbs" (list "get")) }}{{ end -}}
{{- range $g := keys $patch | sortAlpha }}{{ $rules = append $rules (dict "apiGroups" (list $g) "resources" (get $patch $g | uniq | sortAlpha) "verbs" (list "patch")) }}{{ end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* The effective tools' reads and patches, split by scope. Argument: root context + config.
Output: YAML {namespaced: [...], cluster: [...], patches: [...]} */}}
{{- define "gitops-agent.access" -}}
{{- $catalogue := .root.Files.Get "files/tools.yaml" | fromYaml -}}
{{- $namespaced := list -}}
{{- $cluster := list -}}
{{- $patches := list -}}
{{- range $catalogue.tools -}}
{{- if has .name $.config.tools -}}
{{- range .reads }}{{ range . }}{{ if .cluster }}{{ $cluster = append $cluster . }}{{ else }}{{ $namespaced = append $namespaced . }}{{ end }}{{ end }}{{ end -}}
{{- range .patches }}{{ range . }}{{ $patches = append $patches . }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "namespaced" $namespaced "cluster" $cluster "patches" $patches) -}}
{{- end -}}

{{/* Gateway parent references with group and kind spelled out. Argument: the parentRefs list. */}}
{{- define "gitops-agent.parentRefs" -}}
{{- $out := list -}}
{{- range . -}}
{{- $ref := dict "group" "gateway.networking.k8s.io" "kind" "Gateway" "name" .name -}}
{{- with .namespace }}{{ $_ := set $ref "namespace" . }}{{ end -}}
{{- with .sectionName }}{{ $_ := set $ref "sectionName" . }}{{ end -}}
{{- with .port }}{{ $_ := set $ref "port" (int .) }}{{ end -}}
{{- $out = append $out $ref -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
