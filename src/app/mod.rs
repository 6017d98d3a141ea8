//! Layer 5, the application: the command line and one module per subcommand. The only layer that
//! reads `clap` types; it turns them into the plain options the layers below take.
pub mod cli;
pub mod commands;
pub mod probe;
