//! Where a benchmark finds the repository's fixtures, the binaries it starts, and where it
//! writes its results.

use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `BENCH_OUT`, else bench/results/ in the repository.
pub fn results_dir() -> PathBuf {
    std::env::var("BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("bench/results"))
}

/// Today's date, as the reports under bench/results/ are named and headed.
pub fn today() -> String {
    jiff::Zoned::now().strftime("%Y-%m-%d").to_string()
}

/// Saves a benchmark's report (markdown tables, or figures for a plot) as
/// `<today>-<name>.<extension>` in [`results_dir`], where the README's tables come from, and says
/// where.
pub fn save_report(name: &str, extension: &str, report: &str) -> std::io::Result<PathBuf> {
    let dir = results_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{name}.{extension}", today()));
    std::fs::write(&path, report)?;
    eprintln!("wrote {}", path.display());
    Ok(path)
}

/// A directory of this run for logs and kubeconfigs, in the system's temporary directory.
pub fn scratch(label: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A workspace binary of the same build as the running benchmark, or of the build in
/// `BENCH_BIN_DIR` (scripts/release-profiles.sh points it at each candidate release profile's
/// output). Cargo puts bench executables in `target/<profile>/deps/` and binaries in
/// `target/<profile>/`; `make bench-build` builds both in one go, so the one found here is never
/// older than the benchmark.
pub fn binary(name: &str) -> Result<PathBuf, String> {
    let dir = match std::env::var_os("BENCH_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().map_err(|e| format!("locating the benchmark executable: {e}"))?;
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .ok_or_else(|| format!("{} is not in a cargo target directory", exe.display()))?
        }
    };
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} is missing: run `make bench-build` (or the make target of this benchmark)", path.display()))
    }
}
