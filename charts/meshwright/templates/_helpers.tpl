{{/* Name of the chart's objects: <release>-operator unless overridden. */}}
{{- define "meshwright.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-operator" (default .Release.Name .Values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels selecting the operator's pods (the same as manifests/operator.yaml's, plus the release). */}}
{{- define "meshwright.selectorLabels" -}}
app.kubernetes.io/name: meshwright-operator
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Helm's own labels, on every object. */}}
{{- define "meshwright.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Labels of the operator's objects. */}}
{{- define "meshwright.labels" -}}
app.kubernetes.io/name: meshwright-operator
app.kubernetes.io/component: operator
{{ include "meshwright.helmLabels" . }}
{{- end -}}
