//! Where the restore order is decided: the dependency graph validated (unknown
//! dependencies, cycles, duplicates, hard dependencies left out of the plan), restore
//! waves, the critical path, and systems that cannot meet their objective
//! ([`planner`]); which systems a plan or drill selects ([`selection`]); a plan's
//! settings as the engine reads them ([`settings`]).

pub mod planner;
pub mod selection;
pub mod settings;

pub use planner::{
    CriticalPath, DEFAULT_RETRY_INTERVAL, MIN_RETRY_INTERVAL, PlanErrors, PlanModel, PlanProblem,
    PlanSettings, StageModel, SystemModel, SystemSource, plan, retry_interval_of, stage_index,
};
