//! Tests of the built `rapport` binary: commands, settings, durability and scale-out.

mod browser;
mod commands;
mod demo;
mod durability;
mod export;
mod prediction;
mod process;
mod scale_out;
mod text;
