{{- define "mdlm-serve.name" -}}
{{- .Chart.Name -}}
{{- end }}

{{- define "mdlm-serve.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{- define "mdlm-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mdlm-serve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mdlm-serve.labels" -}}
{{ include "mdlm-serve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "mdlm-serve.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end }}

{{- define "mdlm-serve.claimName" -}}
{{- .Values.cache.existingClaim | default (printf "%s-cache" (include "mdlm-serve.fullname" .)) -}}
{{- end }}

{{/*
The pod's grace period: the preStop sleep, then the server's own bound once SIGTERM comes (the
longer of --shutdown-timeout-ms and --drain-delay-ms, plus its close graces of about 4 s and its
exit grace of 2 s), rounded up to a second, plus one: the kubelet's SIGKILL never cuts a drain
short.
*/}}
{{- define "mdlm-serve.terminationGracePeriodSeconds" -}}
{{- $serverMs := max .Values.server.shutdownTimeoutMs .Values.server.drainDelayMs -}}
{{- add .Values.preStopSleepSeconds (div (add $serverMs 999) 1000) 7 -}}
{{- end }}

{{/* Where both containers find the caches: the image's layout. */}}
{{- define "mdlm-serve.cacheEnv" -}}
- name: HF_HOME
  value: /data/huggingface
- name: MDLM_MODELS_DIR
  value: /data/models
{{- end }}
