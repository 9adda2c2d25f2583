//! The Helm chart in deploy/helm: lint, what `helm template` renders for the default and the
//! ci/ values, the core objects against the Kubernetes schemas, the pod's security settings
//! and checksums, the rendered configuration through `--config.check`, the values schema,
//! and the default alerts kept equal to deploy/prometheus/alerts.yml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_yaml::Value;

use crate::support::{exporter, tool};

const HELM: &str = "Helm 3 (see .ci/run)";
const KUBERNETES_VALIDATE: &str = "the PyPI package kubernetes-validate";

/// Values files, relative to the chart.
const DEFAULTS: &str = "values.yaml";
const FULL: &str = "ci/full-values.yaml";
const EXISTING_SECRET: &str = "ci/existing-secret-values.yaml";

/// The project's alerting rules, of which the chart ships a copy.
const ALERTS: &str = "deploy/prometheus/alerts.yml";
/// Where the pod mounts the Secret of keys; the rendered configuration points there.
const KEYS_DIR: &str = "/etc/tim-account-exporter/keys/";
/// The Prometheus Operator's kinds, which the Kubernetes schemas do not know.
const CRD_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule"];

/// One app that takes its key from the chart's Secret, and no key.
const ONE_APP: &str = "config:
  apps:
    - name: lonely
      sdkappid: 1400000000
      region: seoul
      admin: administrator
      watchlists:
        - name: vip
          user_ids: [ops_bot]
";
const ONE_APP_KEY: &str = "secrets.appKeys.lonely=a-key";

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/tim-account-exporter")
}

/// The default values file and every ci/ values file, relative to the chart.
fn values_files() -> Vec<String> {
    let mut ci: Vec<String> = std::fs::read_dir(chart().join("ci"))
        .expect("the chart has ci/")
        .map(|entry| entry.expect("ci/ entry").file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| format!("ci/{name}"))
        .collect();
    ci.sort();
    assert!(ci.contains(&FULL.to_owned()) && ci.contains(&EXISTING_SECRET.to_owned()));
    [vec![DEFAULTS.to_owned()], ci].concat()
}

/// A values file of the chart, parsed.
fn values_of(file: &str) -> Value {
    let yaml = std::fs::read_to_string(chart().join(file)).expect("values file");
    serde_yaml::from_str(&yaml).expect("values file parses")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `content` to a new temporary folder; the folder and the file's path.
fn temp_file(name: &str, content: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("file written");
    let path = path.to_str().expect("UTF-8 temp path").to_owned();
    (dir, path)
}

/// The helm binary, run in the chart's folder.
struct Helm(PathBuf);

impl Helm {
    /// None (the test skips) when helm is missing outside CI.
    fn find() -> Option<Self> {
        tool("helm", HELM).map(Helm)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.0)
            .args(args)
            .current_dir(chart())
            .output()
            .expect("helm runs")
    }

    /// `helm template` of the chart with `args` (values files, `--set`).
    fn template(&self, args: &[&str]) -> Output {
        self.run(&[&["template", "tim", ".", "--namespace", "monitoring"], args].concat())
    }

    /// The objects `helm template` renders with `args`; panics when it fails.
    fn render(&self, args: &[&str]) -> Rendered {
        let out = self.template(args);
        assert!(
            out.status.success(),
            "helm template {args:?} failed:\n{}",
            text(&out.stderr)
        );
        Rendered::parse(&text(&out.stdout))
    }

    /// The standard error of `helm template` with `args`, which must fail.
    fn template_error(&self, args: &[&str]) -> String {
        let out = self.template(args);
        assert!(
            !out.status.success(),
            "helm template {args:?} should fail, but rendered:\n{}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }
}

/// The documents of a `helm template` output.
struct Rendered(Vec<Value>);

impl Rendered {
    fn parse(yaml: &str) -> Self {
        let docs = serde_yaml::Deserializer::from_str(yaml)
            .map(|doc| Value::deserialize(doc).expect("rendered YAML parses"))
            .filter(|doc| !doc.is_null())
            .collect();
        Rendered(docs)
    }

    /// The kinds of the objects, sorted.
    fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self
            .0
            .iter()
            .map(|doc| doc["kind"].as_str().expect("a kind"))
            .collect();
        kinds.sort_unstable();
        kinds
    }

    fn find(&self, kind: &str) -> Option<&Value> {
        self.0.iter().find(|doc| doc["kind"].as_str() == Some(kind))
    }

    /// The one object of `kind`.
    fn one(&self, kind: &str) -> &Value {
        assert_eq!(self.kinds().iter().filter(|k| **k == kind).count(), 1);
        self.find(kind).expect("rendered")
    }

    /// The pod template's annotation `name` of the Deployment.
    fn pod_annotation(&self, name: &str) -> String {
        let value = &self.one("Deployment")["spec"]["template"]["metadata"]["annotations"][name];
        value.as_str().expect("annotation").to_owned()
    }
}

/// `data` of a ConfigMap or Secret as name -> value.
fn data(object: &Value) -> BTreeMap<String, String> {
    serde_yaml::from_value(object["data"].clone()).expect("data is a map of strings")
}

#[test]
fn lint_passes_with_the_default_and_every_ci_values_file() {
    let Some(helm) = Helm::find() else {
        return;
    };
    for values in values_files() {
        let out = helm.run(&["lint", "--strict", ".", "-f", &values]);
        assert!(
            out.status.success(),
            "helm lint --strict -f {values}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn template_renders_the_expected_objects() {
    let Some(helm) = Helm::find() else {
        return;
    };
    assert_eq!(
        helm.render(&["-f", DEFAULTS]).kinds(),
        ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    );
    assert_eq!(
        helm.render(&["-f", FULL]).kinds(),
        [
            "ConfigMap",
            "Deployment",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]
    );
    let existing = helm.render(&["-f", EXISTING_SECRET]);
    assert!(existing.find("Secret").is_none(), "{:?}", existing.kinds());
    let volumes = &existing.one("Deployment")["spec"]["template"]["spec"]["volumes"];
    let keys = volumes
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "keys")
        .expect("a keys volume");
    assert_eq!(keys["secret"]["secretName"], "tim-account-keys");
    assert_eq!(keys["secret"]["defaultMode"], 0o440);
}

#[test]
fn the_scrape_job_is_the_one_the_exporter_down_alert_watches() {
    let Some(helm) = Helm::find() else {
        return;
    };
    // Whatever the names, the ServiceMonitor takes the job from a fixed Service label.
    let rendered = helm.render(&[
        "-f",
        FULL,
        "--set",
        "fullnameOverride=imwatch,nameOverride=imw",
    ]);
    let job_label = rendered.one("ServiceMonitor")["spec"]["jobLabel"]
        .as_str()
        .expect("jobLabel")
        .to_owned();
    let job = rendered.one("Service")["metadata"]["labels"][job_label.as_str()]
        .as_str()
        .expect("the Service has the job label")
        .to_owned();
    assert!(job.contains("tim-account-exporter"), "{job}");
    let alerts = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ALERTS))
        .expect("alerts.yml");
    assert!(alerts.contains(r#"up{job=~".*tim-account-exporter.*"} == 0"#));
}

#[test]
fn rendered_core_objects_pass_kubernetes_validate() {
    let (Some(helm), Some(validate)) = (
        Helm::find(),
        tool("kubernetes-validate", KUBERNETES_VALIDATE),
    ) else {
        return;
    };
    for values in values_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files: Vec<PathBuf> = helm
            .render(&["-f", &values])
            .0
            .iter()
            .filter(|doc| !CRD_KINDS.contains(&doc["kind"].as_str().unwrap_or_default()))
            .enumerate()
            .map(|(i, doc)| {
                let path = dir.path().join(format!("{i}.yaml"));
                std::fs::write(&path, serde_yaml::to_string(doc).unwrap()).unwrap();
                path
            })
            .collect();
        let out = Command::new(&validate)
            .arg("--strict")
            .args(&files)
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            out.status.success(),
            "kubernetes-validate --strict with {values}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn the_pod_is_locked_down_and_probed() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let rendered = helm.render(&["-f", DEFAULTS]);
    let deployment = rendered.one("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        rendered.one("ServiceAccount")["automountServiceAccountToken"],
        false
    );
    let security = &pod["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["fsGroup"], 65532);
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");

    let container = &pod["containers"][0];
    // appVersion follows the crate's version, and the default tag follows appVersion.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        container["image"],
        format!("tim-account-exporter:{version}").as_str()
    );
    assert!(
        container.get("command").is_none(),
        "the image's entrypoint runs"
    );
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(container["ports"][0]["name"], "http");
    assert_eq!(container["ports"][0]["containerPort"], 9731);
    let service_port = &rendered.one("Service")["spec"]["ports"][0];
    assert_eq!(service_port["name"], "http");
    assert_eq!(service_port["targetPort"], "http");
    for (probe, path) in [
        ("livenessProbe", "/-/healthy"),
        ("readinessProbe", "/-/ready"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path);
        assert_eq!(container[probe]["httpGet"]["port"], "http");
    }
    let args = container["args"].as_sequence().expect("args");
    for arg in [
        "--config.file=/etc/tim-account-exporter/config/config.yaml",
        "--web.listen-address=:9731",
        "--log.level=info",
        "--log.format=logfmt",
    ] {
        assert!(args.iter().any(|a| a == arg), "{arg} in {args:?}");
    }
}

#[test]
fn checksums_follow_the_config_and_the_keys() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let checksums = |args: &[&str]| {
        let rendered = helm.render(args);
        let sums = (
            rendered.pod_annotation("checksum/config"),
            rendered.pod_annotation("checksum/secret"),
        );
        for sum in [&sums.0, &sums.1] {
            assert!(sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        sums
    };
    let base = checksums(&["-f", FULL]);
    for config_change in [
        "config.defaults.interval=30s",
        "configFiles.support-agents\\.txt=support_09",
    ] {
        let changed = checksums(&["-f", FULL, "--set", config_change]);
        assert_ne!(changed.0, base.0, "{config_change} changes checksum/config");
        assert_eq!(changed.1, base.1, "{config_change} keeps checksum/secret");
    }
    let changed = checksums(&["-f", FULL, "--set", "secrets.appKeys.prod-sg=another-key"]);
    assert_eq!(changed.0, base.0, "a new key keeps checksum/config");
    assert_ne!(changed.1, base.1, "a new key changes checksum/secret");

    let existing = checksums(&["-f", EXISTING_SECRET]);
    let renamed = checksums(&[
        "-f",
        EXISTING_SECRET,
        "--set",
        "secrets.existingSecret=other",
    ]);
    assert_ne!(
        renamed.1, existing.1,
        "another existing Secret changes checksum/secret"
    );
}

#[test]
fn the_rendered_configuration_passes_the_exporters_check() {
    let Some(helm) = Helm::find() else {
        return;
    };
    for values in [FULL, EXISTING_SECRET] {
        let rendered = helm.render(&["-f", values]);
        let dir = tempfile::tempdir().expect("temp dir");
        let config_dir = dir.path().join("config");
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::create_dir_all(&keys_dir).unwrap();

        // The ConfigMap's files, with the key paths moved from the Secret's mount point to
        // the folder standing in for it.
        let files = data(rendered.one("ConfigMap"));
        for (name, content) in &files {
            let moved = content.replace(KEYS_DIR, &format!("{}/", keys_dir.display()));
            std::fs::write(config_dir.join(name), moved).unwrap();
        }
        let config: Value = serde_yaml::from_str(&files["config.yaml"]).expect("config.yaml");
        let apps = config["apps"].as_sequence().expect("apps");

        // The Secret's keys as the volume holds them, each as given in secrets.appKeys; an
        // existing Secret stands in with a key for every app.
        let keys: BTreeMap<String, String> = match rendered.find("Secret") {
            Some(secret) => {
                let keys = data(secret)
                    .into_iter()
                    .map(|(name, key)| {
                        let key = STANDARD.decode(key).expect("base64");
                        (name, String::from_utf8(key).expect("UTF-8 key"))
                    })
                    .collect();
                let given = values_of(values)["secrets"]["appKeys"].clone();
                assert_eq!(
                    serde_yaml::from_value::<BTreeMap<_, _>>(given).unwrap(),
                    keys
                );
                keys
            }
            None => apps
                .iter()
                .map(|app| (app["name"].as_str().unwrap().to_owned(), "a-key".to_owned()))
                .collect(),
        };
        for (name, key) in &keys {
            std::fs::write(keys_dir.join(name), key).unwrap();
        }

        // Apps with secret_key_env read a variable the container's env defines.
        let container = &rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
        let env_names: Vec<&str> = container["env"]
            .as_sequence()
            .map(|env| env.iter().filter_map(|e| e["name"].as_str()).collect())
            .unwrap_or_default();
        let key_vars: Vec<&str> = apps
            .iter()
            .filter_map(|app| app["secret_key_env"].as_str())
            .collect();
        for var in &key_vars {
            assert!(
                env_names.contains(var),
                "{var} is not in the env of the pod"
            );
        }

        let out = exporter()
            .arg("--config.check")
            .arg("--config.file")
            .arg(config_dir.join("config.yaml"))
            .envs(
                key_vars
                    .iter()
                    .map(|var| (var, "a-key-from-the-environment")),
            )
            .output()
            .expect("exporter runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "--config.check of the config rendered with {values}:\n{}\n{}",
            text(&out.stderr),
            files["config.yaml"]
        );
    }
}

#[test]
fn an_app_without_a_key_fails_the_render() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let (_dir, values) = temp_file("values.yaml", ONE_APP);
    let stderr = helm.template_error(&["-f", &values]);
    assert!(
        stderr.contains("the app \"lonely\" has no secret key: set secrets.appKeys.lonely"),
        "{stderr}"
    );
    helm.render(&["-f", &values, "--set", ONE_APP_KEY]);
    helm.render(&["-f", &values, "--set", "secrets.existingSecret=keys"]);
    helm.render(&["-f", &values, "--set", "config.apps[0].secret_key_env=KEY"]);
}

#[test]
fn the_values_schema_rejects_bad_values() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let (_dir, values) = temp_file("values.yaml", ONE_APP);
    let (_inline_dir, inline) = temp_file(
        "values.yaml",
        &ONE_APP.replace(
            "admin: administrator",
            "admin: administrator\n      secret_key: k",
        ),
    );
    for ([flag, value], what) in [
        (["-f", inline.as_str()], "secret_key"),
        (["--set", "config.apps[0].secret_key=k"], "secret_key"),
        (["--set", "config.apps[0].region=mars"], "region"),
        (["--set", "config.apps[0].retries=11"], "retries"),
        (
            ["--set", "config.apps[0].watchlists[0].expect=yes"],
            "expect",
        ),
        (["--set", "config.defaults.rate_limit=101"], "rate_limit"),
        (["--set", "replicas=2"], "replicas"),
        (["--set", "replicaCount=2"], "replicaCount"),
    ] {
        let stderr = helm.template_error(&["-f", &values, "--set", ONE_APP_KEY, flag, value]);
        assert!(
            stderr.contains("schema") && stderr.contains(what),
            "{flag} {value}: {stderr}"
        );
    }
}

#[test]
fn the_prometheus_rule_carries_the_projects_alerts() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let alerts = Path::new(env!("CARGO_MANIFEST_DIR")).join(ALERTS);
    let alerts: Value = serde_yaml::from_str(&std::fs::read_to_string(alerts).expect(ALERTS))
        .expect("the alerts parse");
    let groups = alerts["groups"].as_sequence().expect("groups");

    let rule = helm.render(&["-f", DEFAULTS, "--set", "prometheusRule.enabled=true"]);
    assert_eq!(
        rule.one("PrometheusRule")["spec"]["groups"].as_sequence(),
        Some(groups),
        "files/alerts.yml of the chart differs from {ALERTS}: copy it over with\n\
         cp {ALERTS} deploy/helm/tim-account-exporter/files/alerts.yml"
    );

    // extraRules come as one more group, after the default ones.
    let rendered = helm.render(&["-f", FULL]);
    let spec_groups = rendered.one("PrometheusRule")["spec"]["groups"]
        .as_sequence()
        .expect("groups");
    let (extra, defaults) = spec_groups.split_last().expect("groups");
    assert_eq!(defaults, groups.as_slice());
    assert_eq!(
        extra["rules"],
        values_of(FULL)["prometheusRule"]["extraRules"]
    );
}

const WEB_CONFIG: &str = "ci/web-config-values.yaml";

/// The test certificate and key of the web-config corpus, for `--set-file`.
fn test_cert(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/web-config/certs")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn the_web_config_is_mounted_passed_and_checked_and_probes_and_scrapes_follow_it() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let cert = format!("webConfig.files.tls\\.crt={}", test_cert("server.crt"));
    let key = format!("webConfig.files.tls\\.key={}", test_cert("server.key"));
    let rendered = helm.render(&["-f", WEB_CONFIG, "--set-file", &cert, "--set-file", &key]);
    let secret = rendered
        .0
        .iter()
        .find(|doc| {
            doc["kind"] == "Secret" && doc["metadata"]["name"] == "tim-tim-account-exporter-web"
        })
        .expect("the web Secret");
    // Its files, as the volume holds them, pass the exporter's check.
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in data(secret) {
        std::fs::write(dir.path().join(&name), STANDARD.decode(content).unwrap()).unwrap();
    }
    let out = exporter()
        .args(["--demo", "--config.check", "--web.config.file"])
        .arg(dir.path().join("web.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout)
        .contains("TLS TLS12-TLS13, client certificates: NoClientCert, basic auth: 1 users"));

    let pod = &rendered.one("Deployment")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = container["args"].as_sequence().unwrap();
    assert!(args
        .iter()
        .any(|a| a == "--web.config.file=/etc/tim-account-exporter/web/web.yml"));
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "web-config")
        .expect("the web config mount");
    assert_eq!(mount["mountPath"], "/etc/tim-account-exporter/web");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "web-config")
        .expect("the web config volume");
    assert_eq!(
        volume["secret"]["secretName"],
        "tim-tim-account-exporter-web"
    );
    assert_eq!(volume["secret"]["defaultMode"], 288);
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["scheme"], "HTTPS", "{probe}");
        assert_eq!(get["httpHeaders"][0]["name"], "Authorization", "{probe}");
    }
    let endpoint = &rendered.one("ServiceMonitor")["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(endpoint["tlsConfig"]["ca"]["secret"]["key"], "ca.crt");
    assert_eq!(endpoint["basicAuth"]["password"]["key"], "password");

    // Basic auth without a probe user: the probes only check the port.
    let rendered = helm.render(&["-f", WEB_CONFIG, "--set", "webConfig.probeAuthorization="]);
    let container = &rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["tcpSocket"]["port"], "http", "{probe}");
        assert!(container[probe].get("httpGet").is_none());
    }

    // An existing Secret: no web Secret of the chart, the scheme as set.
    let rendered = helm.render(&[
        "-f",
        EXISTING_SECRET,
        "--set",
        "webConfig.existingSecret=exporter-web,webConfig.scheme=https",
    ]);
    assert!(!rendered.kinds().contains(&"Secret"));
    let pod = &rendered.one("Deployment")["spec"]["template"]["spec"];
    assert!(pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|v| v["secret"]["secretName"] == "exporter-web"));
    assert_eq!(
        pod["containers"][0]["readinessProbe"]["httpGet"]["scheme"],
        "HTTPS"
    );

    // Without a web config: plain HTTP as before.
    let rendered = helm.render(&["-f", FULL, "--set", "serviceMonitor.enabled=true"]);
    let container = &rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(!container["args"].as_sequence().unwrap().iter().any(|a| a
        .as_str()
        .is_some_and(|a| a.starts_with("--web.config.file"))));
    assert_eq!(container["livenessProbe"]["httpGet"]["scheme"], "HTTP");
    assert_eq!(
        rendered.one("ServiceMonitor")["spec"]["endpoints"][0]["scheme"],
        "http"
    );
}

const SHARDED: &str = "ci/sharded-values.yaml";

#[test]
fn sharding_renders_a_statefulset_with_a_headless_service_and_a_budget() {
    let Some(helm) = Helm::find() else {
        return;
    };
    // Unsharded: a Deployment behind an ordinary Service, and no budget.
    let plain = helm.render(&["-f", DEFAULTS]);
    assert!(plain.find("StatefulSet").is_none() && plain.find("PodDisruptionBudget").is_none());
    assert!(plain.one("Service")["spec"]["clusterIP"].is_null());
    let plain_args = &plain.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(!serde_yaml::to_string(plain_args).unwrap().contains("shard"));

    let rendered = helm.render(&["-f", SHARDED]);
    assert_eq!(
        rendered.kinds(),
        [
            "ConfigMap",
            "PodDisruptionBudget",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
            "StatefulSet"
        ]
    );
    let set = rendered.one("StatefulSet");
    let service = rendered.one("Service");
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
    assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(service["spec"]["clusterIP"], "None");
    let pod_labels = &set["spec"]["template"]["metadata"]["labels"];
    for (name, value) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(&pod_labels[name], value);
    }
    let budget = rendered.one("PodDisruptionBudget");
    assert_eq!(budget["spec"]["maxUnavailable"], 1);
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"]
    );
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--shard.pod-name=$(POD_NAME)"), "{args:?}");
    assert!(args.contains(&"--total-shards=3"), "{args:?}");
    let pod_name = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .expect("POD_NAME from the downward API");
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    // The exporter takes these arguments: the last pod of the set is shard 2 of 3.
    let dir = tempfile::tempdir().expect("temp dir");
    let keys_dir = dir.path().join("keys");
    std::fs::create_dir_all(&keys_dir).unwrap();
    for (name, content) in data(rendered.one("ConfigMap")) {
        let moved = content.replace(KEYS_DIR, &format!("{}/", keys_dir.display()));
        std::fs::write(dir.path().join(name), moved).unwrap();
    }
    std::fs::write(keys_dir.join("prod-sg"), "a-key").unwrap();
    let pod = format!("{}-2", set["metadata"]["name"].as_str().unwrap());
    let mut check = exporter();
    check.arg("--config.check");
    for arg in &args {
        if arg.starts_with("--config.file=") {
            check.arg(format!(
                "--config.file={}",
                dir.path().join("config.yaml").display()
            ));
        } else if !arg.starts_with("--web.") {
            check.arg(arg.replace("$(POD_NAME)", &pod));
        }
    }
    let out = check.output().expect("the exporter runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("configuration is valid (shard 2 of 3"),
        "{}",
        text(&out.stdout)
    );

    // A headless Service cannot be a NodePort or LoadBalancer.
    let error = helm.template_error(&["-f", SHARDED, "--set", "service.type=NodePort"]);
    assert!(
        error.contains("sharding.enabled needs service.type ClusterIP"),
        "{error}"
    );
    let error = helm.template_error(&["-f", SHARDED, "--set", "sharding.shards=0"]);
    assert!(error.contains("shards"), "{error}");
}
