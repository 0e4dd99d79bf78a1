//! The interactive wizard (dialoguer). It only asks for what flags and `--from` left
//! out; every answer it collects has a flag. Ctrl-C (or a closed terminal) aborts
//! before anything is written.

use crate::error::{Error, Result};
use crate::spec::{self, Backend, FieldSpec, ProjectFile, ResourceSection};
use dialoguer::{theme::ColorfulTheme, Input, MultiSelect, Select};

/// Which answers still need asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct Missing {
    pub name: bool,
    pub backend: bool,
    pub resources: bool,
    pub options: bool,
}

fn aborted(e: dialoguer::Error) -> Error {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => Error::Aborted,
        dialoguer::Error::IO(io) => Error::Io(io),
    }
}

/// A validation message that fits on one line of the terminal, so redrawing the prompt
/// leaves nothing stale behind (a wrapped or multi-line message would).
fn one_line(message: &str) -> String {
    let width = console::Term::stderr().size().1 as usize;
    let first = message.lines().next().unwrap_or("").trim();
    // dialoguer prints "✘ " before the message.
    let room = width.saturating_sub(4).max(20);
    if first.chars().count() <= room {
        first.to_string()
    } else {
        let mut cut: String = first.chars().take(room - 1).collect();
        cut.push('…');
        cut
    }
}

/// A yes/no question answered with a line (`y`, `yes`, `n`, `no`; Enter takes the
/// default), so typing `y⏎` never spills into the next prompt.
pub fn yes_no(question: &str, default: bool) -> Result<bool> {
    let theme = ColorfulTheme::default();
    let answer: String = Input::with_theme(&theme)
        .with_prompt(format!(
            "{question} {}",
            if default { "[Y/n]" } else { "[y/N]" }
        ))
        .allow_empty(true)
        .validate_with(|s: &String| -> Result<(), String> {
            match s.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" | "n" | "no" => Ok(()),
                _ => Err("answer y or n".into()),
            }
        })
        .interact_text()
        .map_err(aborted)?;
    Ok(match answer.trim().to_ascii_lowercase().as_str() {
        "" => default,
        a => a.starts_with('y'),
    })
}

/// Fill the missing answers of `file` by asking on the terminal.
pub fn fill(file: &mut ProjectFile, missing: Missing) -> Result<()> {
    let theme = ColorfulTheme::default();
    if missing.name {
        file.project.name = Input::<String>::with_theme(&theme)
            .with_prompt("Project name")
            .validate_with(|s: &String| -> Result<(), String> {
                spec::validate_project_name(s).map_err(|e| one_line(&e.message))
            })
            .interact_text()
            .map_err(aborted)?;
    }
    if missing.backend {
        let missing = |built: bool, feature: &str| {
            if built {
                String::new()
            } else {
                format!(" (`dieselkit migrate` needs a dieselkit built with --features {feature})")
            }
        };
        let choices = [
            "SQLite (embedded, needs no server)".to_string(),
            format!(
                "PostgreSQL{}",
                missing(cfg!(feature = "postgres"), "postgres")
            ),
            format!(
                "MySQL / MariaDB{}",
                missing(cfg!(feature = "mysql"), "mysql")
            ),
        ];
        let picked = Select::with_theme(&theme)
            .with_prompt("Database")
            .items(&choices)
            .default(0)
            .interact()
            .map_err(aborted)?;
        file.project.backend = Backend::ALL[picked];
    }
    if missing.resources {
        ask_resources(&theme, file)?;
    }
    if missing.options {
        let items = [
            "Seed data (cargo run --bin seed)",
            "CI workflow (GitHub Actions)",
        ];
        let picked = MultiSelect::with_theme(&theme)
            .with_prompt("Options (space to toggle, enter to confirm)")
            .items(&items)
            .defaults(&[true, true])
            .interact()
            .map_err(aborted)?;
        file.options.seed = picked.contains(&0);
        file.options.ci = picked.contains(&1);
    }
    Ok(())
}

/// Check a resource with these fields as the model would, alone in a project: the
/// message for the prompt, if any.
fn check_alone(resource: &str, fields: &[String]) -> Result<(), String> {
    let probe = ProjectFile {
        project: spec::ProjectSection {
            name: "probe".into(),
            backend: Backend::Sqlite,
        },
        options: Default::default(),
        resources: vec![ResourceSection {
            name: resource.to_string(),
            renamed_from: None,
            fields: fields.to_vec(),
        }],
    };
    spec::Model::from_file(&probe)
        .map(|_| ())
        .map_err(|e| one_line(&e.message))
}

fn ask_resources(theme: &ColorfulTheme, file: &mut ProjectFile) -> Result<()> {
    loop {
        let first = file.resources.is_empty();
        let known: Vec<String> = file.resources.iter().map(|r| r.name.clone()).collect();
        let name: String = Input::with_theme(theme)
            .with_prompt(if first {
                "Resource name (singular, e.g. author)"
            } else {
                "Another resource (empty to finish)"
            })
            .allow_empty(!first)
            .validate_with(|s: &String| -> Result<(), String> {
                if s.is_empty() {
                    return Ok(());
                }
                if known.contains(s) {
                    return Err(format!("`{s}` is already a resource"));
                }
                check_alone(s, &[])
            })
            .interact_text()
            .map_err(aborted)?;
        if name.is_empty() {
            return Ok(());
        }
        let mut fields: Vec<String> = Vec::new();
        if first {
            // Once, above the prompts: a prompt that wraps would leave stale lines behind
            // when dialoguer redraws it.
            let _ = console::Term::stderr().write_line(
                "  Fields are NAME:TYPE[?][:unique][:index][:default=V], e.g. title:string(200), price:decimal(10,2)?",
            );
        }
        loop {
            let taken: Vec<String> = fields
                .iter()
                .filter_map(|f| FieldSpec::parse(f).ok().map(|f| f.column()))
                .collect();
            let spec: String = Input::with_theme(theme)
                .with_prompt(format!("Field of `{name}` (empty to finish)"))
                .allow_empty(true)
                .validate_with(|s: &String| -> Result<(), String> {
                    if s.is_empty() {
                        return Ok(());
                    }
                    let field = FieldSpec::parse(s).map_err(|e| one_line(&e.message))?;
                    // Names are checked where they are used, as the model checks them.
                    if !matches!(field.ty, spec::FieldType::References { .. }) {
                        check_alone(&name, std::slice::from_ref(s))?;
                    }
                    if taken.contains(&field.column()) {
                        return Err(format!("`{}` is already a field", field.column()));
                    }
                    if matches!(field.ty, spec::FieldType::References { .. }) {
                        return Err("add relations at the next question".into());
                    }
                    Ok(())
                })
                .interact_text()
                .map_err(aborted)?;
            if spec.is_empty() {
                break;
            }
            fields.push(spec);
        }
        // Relations: as many as the resource has (a comment belongs to a post and a user).
        let mut parents: Vec<String> = Vec::new();
        loop {
            let columns: Vec<String> = fields
                .iter()
                .filter_map(|f| FieldSpec::parse(f).ok().map(|f| f.column()))
                .collect();
            let open: Vec<String> = known
                .iter()
                .filter(|k| !parents.contains(k) && !columns.contains(&format!("{k}_id")))
                .cloned()
                .collect();
            if open.is_empty() {
                break;
            }
            let question = if parents.is_empty() {
                format!("Does `{name}` belong to another resource?")
            } else {
                format!("Does `{name}` belong to yet another resource?")
            };
            if !yes_no(&question, false)? {
                break;
            }
            let parent = Select::with_theme(theme)
                .with_prompt(format!("`{name}` belongs to"))
                .items(&open)
                .default(open.len() - 1)
                .interact()
                .map_err(aborted)?;
            let actions = [
                "cascade (delete its rows too)",
                "restrict (refuse the delete)",
                "set_null (keep rows, clear the link)",
            ];
            let action = Select::with_theme(theme)
                .with_prompt(format!("When a `{}` is deleted", open[parent]))
                .items(&actions)
                .default(1)
                .interact()
                .map_err(aborted)?;
            let suffix = ["cascade", "restrict", "set_null"][action];
            let nullable = if suffix == "set_null" { "?" } else { "" };
            fields.push(format!(
                "{}:references{nullable}:on_delete={suffix}",
                open[parent]
            ));
            parents.push(open[parent].clone());
        }
        file.resources.push(ResourceSection {
            name,
            renamed_from: None,
            fields,
        });
    }
}
