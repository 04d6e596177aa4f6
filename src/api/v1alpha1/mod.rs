//! `lifeline.dev/v1alpha1`: ClinicalSystem, RecoveryPlan, Approval, Intervention and
//! RecoveryDrill.

mod approval;
mod clinical_system;
mod common;
pub mod conditions;
mod intervention;
mod recovery_drill;
mod recovery_plan;
mod recovery_record;

pub use approval::*;
pub use clinical_system::*;
pub use common::*;
pub use intervention::*;
pub use recovery_drill::*;
pub use recovery_plan::*;
pub use recovery_record::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD of this version, in the order `lifeline crd` prints them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ClinicalSystem::crd(),
        RecoveryPlan::crd(),
        Approval::crd(),
        Intervention::crd(),
        RecoveryDrill::crd(),
        RecoveryRecord::crd(),
    ]
}
