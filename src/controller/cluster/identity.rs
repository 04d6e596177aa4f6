//! Who the current Kubernetes user is, as the API server says (a SelfSubjectReview): the
//! operator's own username, and the person recording an approval with the CLI.

use anyhow::Context as _;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::{Api, Client, api::PostParams};
use serde_json::json;

/// Who the API server says the current user is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    /// Username.
    pub username: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// Asks the API server who the current user is.
pub async fn whoami(client: &Client) -> anyhow::Result<Me> {
    let review: SelfSubjectReview = serde_json::from_value(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview"
    }))?;
    let answer = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .context("ask the API server who you are (SelfSubjectReview)")?;
    let user = answer.status.and_then(|s| s.user_info).unwrap_or_default();
    let username = user
        .username
        .filter(|u| !u.is_empty())
        .context("the API server did not say who you are")?;
    Ok(Me {
        username,
        groups: user.groups.unwrap_or_default(),
    })
}
