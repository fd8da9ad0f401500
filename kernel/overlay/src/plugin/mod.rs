//! Encapsulation plugins: the C ABI ([`abi`]) and, with the engine, the
//! registry that plugins register into ([`registry`]).

pub mod abi;
#[cfg(feature = "engine")]
pub mod registry;

#[cfg(feature = "engine")]
pub use registry::{Plugin, PluginInstance};
