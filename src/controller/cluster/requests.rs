//! The operator's own API requests, counted by verb and resource as they leave its client:
//! `lifeline_api_requests_total{verb, resource}`, the way client-go counts a controller's
//! requests (`rest_client_requests_total`), with the API server's own names for the verbs
//! (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`, `DELETECOLLECTION`) and
//! resources (`deployments/scale`, `clinicalsystems/status`), so the two can be set side by
//! side. The API server's own count cannot tell one client from another; this one is the
//! operator's alone.

use std::sync::OnceLock;

use http::{Method, Request, Uri};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};

/// One request's verb and resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// The API server's verb: GET, LIST, WATCH, POST, PUT, PATCH, DELETE, DELETECOLLECTION.
    pub verb: String,
    /// The resource, with its subresource after a slash ("deployments/scale").
    pub resource: String,
}

/// The counts, shared by every client of this process that [`layer`] wraps.
pub fn family() -> &'static Family<RequestLabel, Counter> {
    static REQUESTS: OnceLock<Family<RequestLabel, Counter>> = OnceLock::new();
    REQUESTS.get_or_init(Family::default)
}

/// The verb and resource of a request to the API server, by its method and path; None
/// for a path that names no resource (discovery, `/version`).
pub fn classify(method: &Method, uri: &Uri) -> Option<RequestLabel> {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // "/api/v1/..." (the core group) or "/apis/GROUP/VERSION/...".
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    // "namespaces/NS/RESOURCE[/NAME[/SUB]]", or a cluster-scoped "RESOURCE[/NAME[/SUB]]"
    // (which includes the Namespaces themselves: "namespaces[/NAME]").
    let (resource, name, sub) = match rest {
        ["namespaces", _ns, resource, more @ ..] => (*resource, more.first(), more.get(1)),
        [resource, more @ ..] => (*resource, more.first(), more.get(1)),
        [] => return None,
    };
    let watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    let verb = match (method, name.is_some()) {
        (&Method::GET, _) if watch => "WATCH",
        (&Method::GET, true) => "GET",
        (&Method::GET, false) => "LIST",
        (&Method::POST, _) => "POST",
        (&Method::PUT, _) => "PUT",
        (&Method::PATCH, _) => "PATCH",
        (&Method::DELETE, true) => "DELETE",
        (&Method::DELETE, false) => "DELETECOLLECTION",
        (other, _) => other.as_str(),
    };
    Some(RequestLabel {
        verb: verb.to_string(),
        resource: match sub {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        },
    })
}

/// Counts one request.
fn count<B>(req: Request<B>) -> Request<B> {
    if let Some(label) = classify(req.method(), req.uri()) {
        family().get_or_create(&label).inc();
    }
    req
}

/// A layer for [`kube::client::ClientBuilder::with_layer`] that counts each request the
/// client sends (retries of a watch included: each is a request the API server serves).
pub fn layer<B>() -> tower::util::MapRequestLayer<fn(Request<B>) -> Request<B>> {
    tower::util::MapRequestLayer::new(count::<B> as fn(Request<B>) -> Request<B>)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(method: Method, uri: &str) -> Option<(String, String)> {
        classify(&method, &uri.parse().expect("uri")).map(|l| (l.verb, l.resource))
    }

    fn is(verb: &str, resource: &str) -> Option<(String, String)> {
        Some((verb.to_string(), resource.to_string()))
    }

    #[test]
    fn requests_are_named_as_the_api_server_names_them() {
        assert_eq!(
            label(
                Method::PATCH,
                "/apis/apps/v1/namespaces/ward/deployments/epr/scale?fieldManager=x"
            ),
            is("PATCH", "deployments/scale")
        );
        assert_eq!(
            label(
                Method::PATCH,
                "/apis/lifeline.dev/v1alpha1/namespaces/ward/clinicalsystems/epr/status"
            ),
            is("PATCH", "clinicalsystems/status")
        );
        assert_eq!(
            label(
                Method::GET,
                "/apis/lifeline.dev/v1alpha1/namespaces/ward/recoveryplans/p"
            ),
            is("GET", "recoveryplans")
        );
        assert_eq!(
            label(Method::GET, "/apis/apps/v1/deployments?limit=500"),
            is("LIST", "deployments")
        );
        assert_eq!(
            label(
                Method::GET,
                "/apis/apps/v1/namespaces/ward/deployments?watch=true&resourceVersion=7"
            ),
            is("WATCH", "deployments")
        );
        assert_eq!(
            label(
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/ward/events"
            ),
            is("POST", "events")
        );
        assert_eq!(
            label(
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/lifeline/leases/lifeline"
            ),
            is("PUT", "leases")
        );
        assert_eq!(
            label(Method::DELETE, "/api/v1/namespaces/ward/pods/epr-0"),
            is("DELETE", "pods")
        );
        assert_eq!(
            label(
                Method::DELETE,
                "/api/v1/namespaces/ward/pods?labelSelector=a"
            ),
            is("DELETECOLLECTION", "pods")
        );
        // The Namespaces themselves are cluster-scoped.
        assert_eq!(
            label(Method::GET, "/api/v1/namespaces/ward"),
            is("GET", "namespaces")
        );
        assert_eq!(
            label(Method::GET, "/api/v1/namespaces"),
            is("LIST", "namespaces")
        );
        assert_eq!(
            label(
                Method::POST,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
            ),
            is("POST", "selfsubjectaccessreviews")
        );
        // Discovery and the version name no resource.
        assert_eq!(label(Method::GET, "/apis/apps/v1"), None);
        assert_eq!(label(Method::GET, "/version"), None);
        assert_eq!(label(Method::GET, "/apis"), None);
    }

    #[test]
    fn the_layer_counts_each_request_once() {
        let req = || {
            Request::builder()
                .method(Method::PATCH)
                .uri("/apis/apps/v1/namespaces/count-test/statefulsets/only-here/scale")
                .body(())
                .expect("request")
        };
        let key = RequestLabel {
            verb: "PATCH".into(),
            resource: "statefulsets/scale".into(),
        };
        let before = family().get_or_create(&key).get();
        let _ = count(req());
        let _ = count(req());
        assert_eq!(family().get_or_create(&key).get(), before + 2);
    }
}
