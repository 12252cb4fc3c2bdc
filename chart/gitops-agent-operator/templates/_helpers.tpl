{{/* Chart name (nameOverride wins). */}}
{{- define "gitops-agent-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects: the release name when it already holds the chart name. */}}
{{- define "gitops-agent-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the operator pods. */}}
{{- define "gitops-agent-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitops-agent-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object of the chart. */}}
{{- define "gitops-agent-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gitops-agent-operator.podLabels" . }}
{{- end -}}

{{/* Labels of the operator pods (no chart version, so a chart bump alone does not roll them). */}}
{{- define "gitops-agent-operator.podLabels" -}}
{{ include "gitops-agent-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ include "gitops-agent-operator.tag" . | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: gitops-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gitops-agent-operator.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* The operator image: repository@digest when a digest pins it, else repository:tag. */}}
{{- define "gitops-agent-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "gitops-agent-operator.tag" .) -}}
{{- end -}}
{{- end -}}

{{- define "gitops-agent-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gitops-agent-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false (the existing ServiceAccount the operator runs as)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
