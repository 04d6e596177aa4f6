//! Reading the YAML users apply with kubectl: files or directories (recursively, `.yaml`
//! and `.yml`), each with one or more documents. lifeline objects are parsed into their
//! types; other objects (Deployments, Services, Namespaces) are skipped.
//!
//! Every error names the file, the document, the object and the field.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryPlan},
    engine::{
        PlanSettings, SystemSource,
        plan::{selection, settings::settings_of},
    },
};

/// Where an object came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based document number within the file.
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// A parsed object with its origin and effective namespace.
#[derive(Clone, Debug)]
pub struct Loaded<K> {
    /// The object.
    pub object: K,
    /// Namespace (from the object, or the default).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Where it came from, rendered for messages.
    pub origin: String,
}

/// Everything lifeline-related found under some paths.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    /// ClinicalSystems.
    pub systems: Vec<Loaded<ClinicalSystem>>,
    /// RecoveryPlans.
    pub plans: Vec<Loaded<RecoveryPlan>>,
}

/// Problems reading manifests; all of them, not just the first.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct LoadError(pub Vec<String>);

#[derive(Deserialize)]
struct Head {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<HeadMeta>,
}

#[derive(Deserialize)]
struct HeadMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

fn yaml_files(path: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{}: cannot read directory: {e}", path.display()));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            if child.is_dir() {
                yaml_files(&child, out, errors);
            } else if child.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(child);
            }
        }
    } else if path.exists() {
        out.push(path.to_path_buf());
    } else {
        errors.push(format!("{}: no such file or directory", path.display()));
    }
}

/// Reads every lifeline object under `paths`. Objects without a namespace get
/// `default_namespace`.
pub fn load(paths: &[PathBuf], default_namespace: &str) -> Result<Bundle, LoadError> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        yaml_files(p, &mut files, &mut errors);
    }
    let mut bundle = Bundle::default();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: cannot read: {e}", file.display()));
                continue;
            }
        };
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let origin = Origin {
                file: file.clone(),
                document: i + 1,
            };
            let value = match serde_yaml::Value::deserialize(doc) {
                Ok(serde_yaml::Value::Null) => continue,
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("{origin}: not valid YAML: {e}"));
                    break; // the rest of the file cannot be trusted
                }
            };
            let head: Head = match serde_yaml::from_value(value.clone()) {
                Ok(h) => h,
                Err(_) => continue, // not a Kubernetes object; not ours
            };
            if head.api_version.as_deref() != Some("lifeline.dev/v1alpha1") {
                continue;
            }
            let meta = head.metadata.unwrap_or(HeadMeta {
                name: None,
                namespace: None,
            });
            let kind = head.kind.unwrap_or_default();
            let Some(name) = meta.name.filter(|n| !n.is_empty()) else {
                errors.push(format!("{origin}: {kind}: metadata.name is required"));
                continue;
            };
            let namespace = meta
                .namespace
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| default_namespace.to_string());
            let what = format!("{origin}: {kind} {namespace}/{name}");
            let unknown = super::strict::unknown_fields(&kind, &value);
            if !unknown.is_empty() {
                errors.extend(unknown.iter().map(|u| format!("{what}: {u}")));
                continue;
            }
            match kind.as_str() {
                "ClinicalSystem" => match parse::<ClinicalSystem>(value) {
                    Ok(object) => bundle.systems.push(Loaded {
                        object,
                        namespace,
                        name,
                        origin: origin.to_string(),
                    }),
                    Err(e) => errors.push(format!("{what}: {e}")),
                },
                "RecoveryPlan" => match parse::<RecoveryPlan>(value) {
                    Ok(object) => bundle.plans.push(Loaded {
                        object,
                        namespace,
                        name,
                        origin: origin.to_string(),
                    }),
                    Err(e) => errors.push(format!("{what}: {e}")),
                },
                _ => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(bundle)
    } else {
        Err(LoadError(errors))
    }
}

/// Parses a value, naming the field path on error ("spec.tier: unknown variant ...").
fn parse<K: serde::de::DeserializeOwned>(value: serde_yaml::Value) -> Result<K, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// What a plan selects, ready for the planner.
#[derive(Debug)]
pub struct Selection<'a> {
    /// "namespace/name" of the plan, or None when every system is planned.
    pub plan: Option<String>,
    /// Every known system, for dependency resolution.
    pub all: Vec<SystemSource<'a>>,
    /// The selected keys.
    pub selected: Vec<String>,
    /// The plan's settings.
    pub settings: PlanSettings,
}

impl Bundle {
    /// Chooses the plan (`plan_name`, or the only plan, or none: every system) and
    /// resolves its selection.
    pub fn select(&self, plan_name: Option<&str>) -> Result<Selection<'_>, String> {
        let all: Vec<SystemSource<'_>> = self
            .systems
            .iter()
            .map(|s| SystemSource {
                namespace: &s.namespace,
                name: &s.name,
                spec: &s.object.spec,
                origin: &s.origin,
            })
            .collect();
        let plan = match plan_name {
            Some(want) => Some(
                self.plans
                    .iter()
                    .find(|p| p.name == want || format!("{}/{}", p.namespace, p.name) == want)
                    .ok_or_else(|| {
                        format!(
                            "no RecoveryPlan named '{want}' (found: {})",
                            self.plan_names()
                        )
                    })?,
            ),
            None if self.plans.len() > 1 => {
                return Err(format!(
                    "several RecoveryPlans found ({}); choose one with --plan",
                    self.plan_names()
                ));
            }
            None => self.plans.first(),
        };
        let Some(plan) = plan else {
            let mut selected: Vec<String> = self
                .systems
                .iter()
                .map(|s| format!("{}/{}", s.namespace, s.name))
                .collect();
            selected.sort();
            return Ok(Selection {
                plan: None,
                all,
                selected,
                settings: PlanSettings::default(),
            });
        };
        let spec = &plan.object.spec;
        let selected = selection::select_systems(
            &plan.namespace,
            &spec.systems,
            self.systems
                .iter()
                .filter(|s| s.namespace == plan.namespace)
                .map(|s| (s.name.as_str(), s.object.metadata.labels.as_ref())),
        )
        .map_err(|e| {
            format!(
                "{}: RecoveryPlan {}/{}: {e}",
                plan.origin, plan.namespace, plan.name
            )
        })?;
        Ok(Selection {
            plan: Some(format!("{}/{}", plan.namespace, plan.name)),
            all,
            selected,
            settings: settings_of(&plan.object),
        })
    }

    fn plan_names(&self) -> String {
        if self.plans.is_empty() {
            return "none".to_string();
        }
        self.plans
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
