//! The benchmarks behind `make bench`. Each module is one benchmark with an async `run` that
//! prints its figures (and writes them under bench/results/ where the README shows them); none
//! asserts anything. They start the release binaries `bench-build` puts next to them, against
//! embedded API servers in this process, and drive them with one load generator ([`load`]).

pub mod apiserver;
pub mod fleet;
pub mod operator;
pub mod resources;
pub mod server;
pub mod soak;
pub mod versus;

mod estate;
mod knobs;
mod load;
mod paths;
mod process;

/// What a benchmark's `main` returns: a failed run prints its error and exits non-zero.
pub type Outcome = Result<(), Box<dyn std::error::Error>>;
