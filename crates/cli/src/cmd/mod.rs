//! One file per subcommand: its clap structs and the glue from flags to the libraries' typed
//! options; `args` holds the flags several subcommands share.

pub mod args;
pub mod bench;
pub mod compare;
pub mod dataset;
pub mod decoding;
pub mod drift;
pub mod encode;
pub mod evaluate;
pub mod export;
pub mod generate;
pub mod import;
pub mod judge;
pub mod likelihood;
pub mod listen;
pub mod lr_find;
pub mod realism;
pub mod recipe;
pub mod train;
