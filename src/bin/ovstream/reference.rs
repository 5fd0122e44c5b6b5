//! `ovstream reference cli|openapi`: references generated from the code, written to
//! `docs/reference/` by `make docs` and compared with the committed files by the tests.

use clap::{Args, Subcommand};
use ovstream::error::exit_code;

#[derive(Args)]
pub(crate) struct ReferenceArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Every command, argument and flag as Markdown (docs/reference/cli.md).
    Cli,
    /// The service's OpenAPI document (docs/reference/openapi.json).
    Openapi,
}

pub(crate) fn run<C: clap::CommandFactory>(args: &ReferenceArgs) -> anyhow::Result<i32> {
    match args.what {
        What::Cli => {
            let options = clap_markdown::MarkdownOptions::new()
                .title("ovstream command-line reference".into())
                .show_footer(false);
            print!("{}", clap_markdown::help_markdown_custom::<C>(&options));
        }
        What::Openapi => {
            let doc = ovstream::serve::openapi::document();
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(exit_code::OK)
}
