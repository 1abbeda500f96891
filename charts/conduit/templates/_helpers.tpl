{{/*
Helpers every template shares. A "service" is an entry of .Values.services merged over
.Values.serviceDefaults; templates call them with (dict "root" $ "name" $name).
*/}}

{{- define "conduit.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "conduit.selectorLabels" -}}
app.kubernetes.io/name: conduit
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "conduit.labels" -}}
{{ include "conduit.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The merged values of service .name, as YAML (use with fromYaml). */}}
{{- define "conduit.service" -}}
{{- $spec := index .root.Values.services .name -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $spec) -}}
{{- $_ := set $merged "kind" ($merged.kind | default "step") -}}
{{- $_ := set $merged "process" ($merged.process | default .name) -}}
{{- $_ := set $merged "consumesSteps" (and (eq $merged.kind "step") (ne $merged.consumesSteps false)) -}}
{{- $_ := set $merged "enabled" (ne $merged.enabled false) -}}
{{- if eq $merged.kind "step" -}}
{{- $scaling := mergeOverwrite (deepCopy .root.Values.autoscaling.defaults) ($merged.scaling | default dict) -}}
{{- $_ := set $scaling "enabled" (and .root.Values.autoscaling.enabled (ne $scaling.enabled false)) -}}
{{- if or $merged.consumesSteps $scaling.topic -}}
{{- $_ := set $scaling "topic" (printf "%s.%s" .root.Values.kafka.topicPrefix ($scaling.topic | default (printf "step.%s" .name))) -}}
{{- end -}}
{{- $_ := set $scaling "consumerGroup" ($scaling.consumerGroup | default .name) -}}
{{- $_ := set $merged "scaling" $scaling -}}
{{- else -}}
{{- $_ := set $merged "scaling" (dict "enabled" false) -}}
{{- end -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* The image of a service: its own, else that of the process it runs, else the default. */}}
{{- define "conduit.image" -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- $process := index .root.Values.services .svc.process | default dict -}}
{{- .svc.image | default $process.image | default (printf "%s/conduit-%s:%s" .root.Values.image.registry .svc.process $tag) -}}
{{- end -}}

{{/* A consumer group cannot spread over more consumers than its topic has partitions. */}}
{{- define "conduit.checkReplicaCap" -}}
{{- $partitions := int .root.Values.kafka.partitions -}}
{{- if gt (int .max) $partitions -}}
{{- fail (printf "%s: maxReplicas %d exceeds kafka.partitions %d; replicas beyond the partition count would sit idle in the consumer group" .name (int .max) $partitions) -}}
{{- end -}}
{{- end -}}

{{/* env entries from the Secrets named in .Values.secrets, for the services that read each:
(dict "root" $ "name" $name "svc" $svc). */}}
{{- define "conduit.secretEnv" -}}
{{- $secrets := .root.Values.secrets -}}
{{- $wanted := list (list "principalKey" "CONDUIT_PRINCIPAL_KEY") -}}
{{- if has "memory" .svc.reaches -}}
{{- $wanted = append $wanted (list "memoryUrl" "CONDUIT_MEMORY_URL") -}}
{{- end -}}
{{- if eq .name "tool-executor" -}}
{{- $wanted = append $wanted (list "piiVaultPrivateKey" "CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY") -}}
{{- end -}}
{{- if eq .name "gateway" -}}
{{- $wanted = append $wanted (list "piiVaultPublicKey" "CONDUIT_PII_VAULT_PUBLIC_KEY") -}}
{{- $wanted = append $wanted (list "jwtSecret" "CONDUIT_GATEWAY_JWT_SECRET") -}}
{{- end -}}
{{- range $wanted -}}
{{- $ref := index $secrets (index . 0) -}}
{{- if $ref.name }}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The probe pair of a pod: startup waits for readiness (models load first). */}}
{{- define "conduit.probes" -}}
startupProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{- define "conduit.topologySpread" -}}
{{- range .root.Values.topologySpread }}
- topologyKey: {{ .topologyKey }}
  maxSkew: {{ .maxSkew }}
  whenUnsatisfiable: {{ .whenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "conduit.selectorLabels" $ | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* Where the services find their dependencies: in-chart when enabled, else the endpoints. */}}
{{- define "conduit.kafkaBootstrap" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{- printf "%s-kafka-kafka-bootstrap:9092" .Release.Name -}}
{{- else -}}
{{- .Values.kafka.bootstrap -}}
{{- end -}}
{{- end -}}

{{- define "conduit.weaviateHost" -}}
{{- if .Values.weaviate.enabled -}}
{{- printf "%s-weaviate" .Release.Name -}}
{{- else -}}
{{- .Values.endpoints.weaviate.host -}}
{{- end -}}
{{- end -}}

{{- define "conduit.tracingUrl" -}}
{{- if .Values.jaeger.enabled -}}
{{- printf "http://%s-jaeger:4318" .Release.Name -}}
{{- else -}}
{{- .Values.endpoints.tracing.url -}}
{{- end -}}
{{- end -}}

{{/* p90 queue wait over 2 minutes, in seconds; 0 while nothing is handled (no NaN). */}}
{{- define "conduit.queueWaitQuery" -}}
{{- $selector := printf "service=\"%s\",topic=\"%s\"" .service .topic -}}
(histogram_quantile(0.9, sum by (le) (rate(conduit_queue_wait_seconds_bucket{ {{- $selector -}} }[2m]))) > 0) or vector(0)
{{- end -}}

{{- define "conduit.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- end -}}

{{/* Egress to one endpoint of .Values.endpoints, or to its in-chart stand-in when enabled. */}}
{{- define "conduit.endpointEgress" -}}
{{- $root := .root -}}
{{- $endpoint := index $root.Values.endpoints .endpoint -}}
{{- $inChart := dict "kafka" $root.Values.kafka.strimzi.enabled "weaviate" $root.Values.weaviate.enabled "tracing" $root.Values.jaeger.enabled "triton" $root.Values.triton.enabled -}}
{{- if not (or (index $inChart .endpoint) $endpoint.peers) -}}
{{- /* An egress rule without peers would open its ports to every destination. */ -}}
{{- fail (printf "endpoints.%s has no peers and no in-chart stand-in is enabled: set endpoints.%s.peers" .endpoint .endpoint) -}}
{{- end -}}
- to:
    {{- if index $inChart .endpoint }}
    - podSelector:
        matchLabels:
          {{- if eq .endpoint "kafka" }}
          strimzi.io/cluster: {{ $root.Release.Name }}-kafka
          {{- else }}
          {{- include "conduit.selectorLabels" (dict "root" $root "name" (ternary "jaeger" .endpoint (eq .endpoint "tracing"))) | nindent 10 }}
          {{- end }}
    {{- end }}
    {{- with $endpoint.peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    {{- range $endpoint.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end -}}
