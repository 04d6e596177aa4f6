//! Every Job template of the shipped playbooks passes the operator's own check of what a
//! ClinicalSystem's Job may run (`engine::job_policy`, the admission policy's rules): a
//! playbook a user applies as it is must never be refused.

use std::path::Path;

use lifeline::{cli::manifest, engine::job_policy};

#[test]
fn every_job_template_of_the_shipped_playbooks_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    let bundle = manifest::load(&[root], "default").expect("the playbooks load");
    let mut seen = 0;
    for s in &bundle.systems {
        let steps = s.object.spec.steps().iter().map(|x| (&x.name, &x.job));
        let checks = s.object.spec.verify.iter().flat_map(|v| &v.checks);
        for (name, job) in steps.chain(checks.map(|c| (&c.name, &c.job))) {
            if let Some(job) = job {
                seen += 1;
                let why = job_policy::problems(&job.template, &job_policy::allowed_accounts(None));
                assert!(why.is_empty(), "{} {name}: {why:#?}", s.origin);
            }
        }
    }
    assert!(seen > 0, "the playbooks hold job steps");
}
