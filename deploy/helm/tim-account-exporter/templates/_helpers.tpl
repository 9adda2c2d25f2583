{{/* The chart name, or nameOverride. */}}
{{- define "tim-account-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the resources: fullnameOverride, or <release>-<name> truncated to 63
characters (the release name alone when it already contains the name).
*/}}
{{- define "tim-account-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The helm.sh/chart label: name-version. */}}
{{- define "tim-account-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the pods; they never change over upgrades. */}}
{{- define "tim-account-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tim-account-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every resource. */}}
{{- define "tim-account-exporter.labels" -}}
helm.sh/chart: {{ include "tim-account-exporter.chart" . }}
{{ include "tim-account-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: tim-account-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The image: repository@digest, or repository:tag (the tag defaults to appVersion). */}}
{{- define "tim-account-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The ServiceAccount's name. */}}
{{- define "tim-account-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tim-account-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the ConfigMap (config.yaml and configFiles) is mounted. */}}
{{- define "tim-account-exporter.configDir" -}}
/etc/tim-account-exporter/config
{{- end }}

{{/* Where the Secret with the apps' keys is mounted, one file per app name. */}}
{{- define "tim-account-exporter.keysDir" -}}
/etc/tim-account-exporter/keys
{{- end }}

{{/* The name of the Secret with the apps' keys: secrets.existingSecret or the chart's. */}}
{{- define "tim-account-exporter.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "tim-account-exporter.fullname" .) }}
{{- end }}

{{/* Whether the pod mounts a Secret of keys: "true" or empty. */}}
{{- define "tim-account-exporter.mountsKeys" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.appKeys }}true{{ end }}
{{- end }}

{{/*
The names of the apps that take their key from the mounted Secret: those that set neither
secret_key_file nor secret_key_env. A JSON list.
*/}}
{{- define "tim-account-exporter.appsWithMountedKey" -}}
{{- $names := list }}
{{- range .Values.config.apps }}
{{- if not (or .secret_key_file .secret_key_env) }}
{{- $names = append $names .name }}
{{- end }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
Checks what the schema cannot: unique app names, and a key for every app that needs one
from the Secret. Fails the render with a message; renders nothing otherwise.
*/}}
{{- define "tim-account-exporter.validate" -}}
{{- $seen := dict }}
{{- range .Values.config.apps }}
{{- if hasKey $seen .name }}
{{- fail (printf "config.apps: the app name %q is used twice; names must be unique" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.secrets.appKeys }}
{{- fail "secrets: set either secrets.appKeys or secrets.existingSecret, not both" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- $keys := .Values.secrets.appKeys | default dict }}
{{- range include "tim-account-exporter.appsWithMountedKey" . | fromJsonArray }}
{{- if not (hasKey $keys .) }}
{{- fail (printf "config.apps: the app %q has no secret key: set secrets.appKeys.%s (e.g. --set-file secrets.appKeys.%s=PATH), or secrets.existingSecret, or the app's secret_key_env or secret_key_file" . . .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The exporter's config.yaml: config from the values, where each app that sets neither
secret_key_file nor secret_key_env reads its key from the mounted Secret.
*/}}
{{- define "tim-account-exporter.configYaml" -}}
{{- $config := deepCopy .Values.config }}
{{- range $config.apps }}
{{- if not (or .secret_key_file .secret_key_env) }}
{{- $_ := set . "secret_key_file" (printf "%s/%s" (include "tim-account-exporter.keysDir" $) .name) }}
{{- end }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Whether a web configuration is in use (webConfig.config or .existingSecret): "true" or empty. */}}
{{- define "tim-account-exporter.webConfig" -}}
{{- if or .Values.webConfig.config .Values.webConfig.existingSecret }}true{{ end }}
{{- end }}

{{/* Where the web configuration Secret is mounted: web.yml and the files it names. */}}
{{- define "tim-account-exporter.webConfigDir" -}}
/etc/tim-account-exporter/web
{{- end }}

{{/* The name of the web configuration Secret: webConfig.existingSecret or the chart's. */}}
{{- define "tim-account-exporter.webConfigSecretName" -}}
{{- .Values.webConfig.existingSecret | default (printf "%s-web" (include "tim-account-exporter.fullname" . | trunc 59 | trimSuffix "-")) }}
{{- end }}

{{/* http or https: webConfig.scheme, else https when webConfig.config has tls_server_config. */}}
{{- define "tim-account-exporter.scheme" -}}
{{- if .Values.webConfig.scheme }}
{{- .Values.webConfig.scheme }}
{{- else if hasKey (.Values.webConfig.config | default dict) "tls_server_config" }}
{{- "https" }}
{{- else }}
{{- "http" }}
{{- end }}
{{- end }}

{{/* Whether every request needs a user: webConfig.basicAuth, or users in webConfig.config. */}}
{{- define "tim-account-exporter.basicAuth" -}}
{{- if or .Values.webConfig.basicAuth (get (.Values.webConfig.config | default dict) "basic_auth_users") }}true{{ end }}
{{- end }}

{{/*
A probe of `path` (dict "path" ... "context" $). HTTPS when the exporter serves it (the
kubelet does not verify the certificate). With basic auth, an HTTP probe needs
webConfig.probeAuthorization; without it the probe only checks that the port accepts
connections.
*/}}
{{- define "tim-account-exporter.probe" -}}
{{- $ := .context }}
{{- if and (include "tim-account-exporter.basicAuth" $) (not $.Values.webConfig.probeAuthorization) }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: {{ .path }}
  port: http
  scheme: {{ include "tim-account-exporter.scheme" $ | upper }}
  {{- with $.Values.webConfig.probeAuthorization }}
  httpHeaders:
    - name: Authorization
      value: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}
