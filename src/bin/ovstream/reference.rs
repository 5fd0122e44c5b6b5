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
    /// The service's endpoints as a Markdown table rendered from the OpenAPI document
    /// (docs/reference/api.md).
    Api,
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
        What::Api => print!("{}", api_table(&ovstream::serve::openapi::document())),
    }
    Ok(exit_code::OK)
}

/// Every operation of an OpenAPI document as a Markdown table row: method, path, summary, the
/// status codes it answers with.
fn api_table(doc: &serde_json::Value) -> String {
    let mut out = String::from(
        "# Service API reference\n\nRendered from the OpenAPI document \
         ([openapi.json](openapi.json), also served at `/api/openapi.json`) by `make docs`. \
         Guide: [../service.md](../service.md).\n\n\
         | method | path | what | answers |\n|---|---|---|---|\n",
    );
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, operations) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = operations.get(method) else {
                continue;
            };
            let summary = op["summary"].as_str().unwrap_or("").replace('|', "\\|");
            let codes: Vec<&str> = (op["responses"].as_object().into_iter().flatten())
                .map(|(code, _)| code.as_str())
                .collect();
            out += &format!(
                "| {} | `{path}` | {summary} | {} |\n",
                method.to_uppercase(),
                codes.join(", ")
            );
        }
    }
    out
}
