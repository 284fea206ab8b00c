//! Loading ONNX Runtime. The library comes from the PyPI `onnxruntime` wheel (the only source
//! reachable offline) and is loaded at run time, so a missing or wrong library is one clear
//! error instead of a link failure.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library file name shipped in the onnxruntime 1.31.1 wheel.
pub const LIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// Failure to find or load ONNX Runtime.
#[derive(Debug, thiserror::Error, Clone)]
pub enum RuntimeError {
    /// No candidate path holds the library.
    #[error("ONNX Runtime 1.31 not found (looked in: {looked}); run scripts/setup.sh, or set ORT_DYLIB_PATH to libonnxruntime.so.1.31.1 from the PyPI onnxruntime==1.31.1 wheel")]
    NotFound {
        /// Paths tried.
        looked: String,
    },
    /// The library exists but could not be loaded or is the wrong version.
    #[error("{path}: cannot load ONNX Runtime ({cause}); it must be libonnxruntime.so.1.31.1 from the PyPI onnxruntime==1.31.1 wheel (run scripts/setup.sh)")]
    Load {
        /// Library path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
    /// A session could not be created from a model.
    #[error("{path}: cannot load the model into ONNX Runtime: {cause}")]
    Session {
        /// Model path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
    /// Inference failed.
    #[error("{model}: inference failed: {cause}")]
    Run {
        /// Model name.
        model: String,
        /// Cause.
        cause: String,
    },
}

static ENV: OnceLock<Result<(PathBuf, ort::environment::Environment), RuntimeError>> =
    OnceLock::new();

/// Candidate library paths, in order: `$ORT_DYLIB_PATH`, next to the executable (and
/// `../lib`), the repo's `third_party/onnxruntime/` above the executable, and
/// `~/.local/share/clearshot/onnxruntime/`.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            out.push(dir.join(LIB_NAME));
            out.push(dir.join("../lib").join(LIB_NAME));
        }
        for dir in exe.ancestors().skip(1).take(4) {
            out.push(dir.join("third_party/onnxruntime").join(LIB_NAME));
        }
    }
    out.push(crate::paths::data_dir().join("onnxruntime").join(LIB_NAME));
    out
}

/// The environment variable that switches ONNX Runtime's own telemetry off entirely.
pub const TELEMETRY_OPT_OUT: &str = "ORT_DISABLE_TELEMETRY";

/// Switches ONNX Runtime's telemetry off before the library loads. Since 1.29, its Linux and
/// macOS builds keep a device id and a queue of usage events (the executable's path, the OS,
/// the CPU, sessions, errors) under `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` and
/// upload them to Microsoft when the machine is online; the environment's
/// `with_telemetry(false)` comes after its first event. Only this variable, set before the
/// library loads, stops all of it (found in 1.31.1's own strings; measured: no
/// `~/.cache/Microsoft` with it, a device id and an event queue without). clearshot never
/// uploads, so it is set whatever the user's environment says. `main` calls this before any
/// thread starts (the worker processes inherit it); [`init`] calls it again for library
/// users, who should call it first themselves if they start threads that read the
/// environment.
pub fn refuse_telemetry() {
    if std::env::var_os(TELEMETRY_OPT_OUT).is_none_or(|v| v != "1") {
        std::env::set_var(TELEMETRY_OPT_OUT, "1");
    }
}

fn load() -> Result<(PathBuf, ort::environment::Environment), RuntimeError> {
    refuse_telemetry();
    let cands = candidates();
    let Some(path) = cands.iter().find(|p| p.is_file()).cloned() else {
        let looked = cands
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(RuntimeError::NotFound { looked });
    };
    // A wrong library can make the loader panic (version mismatch assertions): turn that
    // into the same one-line error.
    let p2 = path.clone();
    let outcome = std::panic::catch_unwind(move || -> Result<_, String> {
        let builder = ort::init_from(&p2).map_err(|e| e.to_string())?;
        builder
            .with_name("clearshot")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    match outcome {
        Ok(Ok(env)) => Ok((path, env)),
        Ok(Err(cause)) => Err(RuntimeError::Load { path, cause }),
        Err(panic) => {
            let cause = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the library panicked while loading".into());
            Err(RuntimeError::Load { path, cause })
        }
    }
}

/// Loads ONNX Runtime once per process and returns the library path; later calls return
/// the first outcome.
pub fn init() -> Result<&'static Path, RuntimeError> {
    match ENV.get_or_init(load) {
        Ok((p, _)) => Ok(p.as_path()),
        Err(e) => Err(e.clone()),
    }
}

fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
    match ENV.get_or_init(load) {
        Ok((_, env)) => Ok(env),
        Err(e) => Err(e.clone()),
    }
}

/// One ONNX model ready to run on the CPU. `Session::run` needs `&mut`, so each worker
/// thread owns its own `Model`.
pub struct Model {
    name: String,
    session: ort::session::Session,
}

/// A float output tensor: shape and row-major data.
#[derive(Debug, Clone)]
pub struct Output {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl Model {
    /// Loads `path` with `threads` intra-op threads.
    pub fn load(name: &str, path: &Path, threads: usize) -> Result<Self, RuntimeError> {
        let env = environment()?;
        let fail = |cause: String| RuntimeError::Session {
            path: path.to_path_buf(),
            cause,
        };
        let session = ort::session::Session::builder(env)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| fail(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| fail(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            name: name.to_string(),
            session,
        })
    }

    /// Runs the model on one float input and returns the named outputs in order.
    pub fn run(
        &mut self,
        input_name: &str,
        input: ndarray::ArrayD<f32>,
        outputs: &[&str],
    ) -> Result<Vec<Output>, RuntimeError> {
        let fail = |cause: String| RuntimeError::Run {
            model: self.name.clone(),
            cause,
        };
        let tensor = ort::value::Tensor::from_array(input).map_err(|e| fail(e.to_string()))?;
        let result = self
            .session
            .run(ort::inputs![input_name => tensor])
            .map_err(|e| fail(e.to_string()))?;
        let mut out = Vec::with_capacity(outputs.len());
        for name in outputs {
            let value = result
                .get(name)
                .ok_or_else(|| fail(format!("the model has no output '{name}'")))?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(e.to_string()))?;
            out.push(Output {
                shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                data: data.to_vec(),
            });
        }
        Ok(out)
    }
}
