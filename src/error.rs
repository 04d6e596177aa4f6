//! The library's error type. Each error has a bounded [`Error::category`], used as a
//! metric label and an Event reason; API server messages never become labels.

/// Everything that can go wrong while reconciling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API refused or failed a request.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done, e.g. "scale Deployment northern-care/lims".
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The plan or a system is invalid; nothing can happen until it is changed.
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// An object the plan needs is malformed (e.g. a Job template).
    #[error("invalid {what}: {message}")]
    InvalidObject {
        /// Which object and field.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// Serialising status or an object failed.
    #[error("serialize {what}: {source}")]
    Serialize {
        /// What.
        what: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// Something the operator needs is not there yet (its cache of plans at start);
    /// trying again soon helps.
    #[error("not ready: {0}")]
    NotReady(String),
    /// RecoveryProgress objects that a plan's status names are gone: what its systems went
    /// through is lost, so the plan does nothing more rather than restore them again.
    #[error("the progress of RecoveryPlan {plan} is lost: {problem}")]
    ProgressLost {
        /// "namespace/name" of the plan.
        plan: String,
        /// What is missing.
        problem: String,
    },
    /// The API server refused to store an object even in its smallest form: nothing more
    /// can be recorded, so nothing more is done until the object is made smaller.
    #[error("{what} is too large to store: {message}")]
    TooLarge {
        /// Which object.
        what: String,
        /// The refusal.
        message: String,
    },
}

impl Error {
    /// A bounded label: `kube`, `invalid_plan`, `invalid_object`, `serialize`, `not_ready`,
    /// `progress_lost`, `too_large`.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::InvalidPlan(_) => "invalid_plan",
            Error::InvalidObject { .. } => "invalid_object",
            Error::Serialize { .. } => "serialize",
            Error::NotReady(_) => "not_ready",
            Error::ProgressLost { .. } => "progress_lost",
            Error::TooLarge { .. } => "too_large",
        }
    }

    /// Whether the API server gave no answer at all (could not connect, the connection
    /// broke, a timeout), as opposed to answering with an error.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Kube { source, .. } if !matches!(source, kube::Error::Api(_)))
    }

    /// Whether trying again later may help (API errors other than 4xx validation).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Kube { source, .. } => match source {
                kube::Error::Api(s) => {
                    !(400..500).contains(&s.code) || s.code == 409 || s.code == 429
                }
                _ => true,
            },
            Error::NotReady(_) => true,
            _ => false,
        }
    }
}

/// Adds the action being done to a kube error.
pub trait KubeContext<T> {
    /// Wraps the error with what was being done.
    fn during(self, action: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> KubeContext<T> for Result<T, kube::Error> {
    fn during(self, action: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Kube {
            action: action(),
            source,
        })
    }
}
