//! The subcommands whose flags are more than a few lines: one file each, clap structs and the
//! glue from flags to the libraries' typed options.

pub mod compare;
pub mod drift;
pub mod evaluate;
pub mod generate;
pub mod judge;
pub mod listen;
pub mod recipe;
