//! `dieselkit new-project`: gather answers (flags, `--from`, wizard), validate them into a
//! model, plan the files and write them atomically.

use crate::cli::{GlobalArgs, NewProjectArgs};
use crate::error::{Error, Result};
use crate::spec::{Model, ProjectFile, ResourceSection};
use crate::ui::Ui;
use crate::{plan, wizard, write};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

fn read_project_file(path: &Path) -> Result<ProjectFile> {
    let text = fs_err::read_to_string(path).map_err(|e| Error::ReadFile {
        path: path.to_path_buf(),
        error: e,
    })?;
    toml::from_str(&text).map_err(|e| Error::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn run(args: NewProjectArgs, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let mut file = match &args.from {
        Some(path) => read_project_file(path)?,
        None => ProjectFile::default(),
    };
    let from_gave_backend = args.from.is_some();
    if let Some(name) = &args.name {
        file.project.name = name.clone();
    }
    if let Some(backend) = args.backend {
        file.project.backend = backend;
    }
    for flag in &args.resources {
        let section =
            ResourceSection::from_flag(flag).map_err(|e| e.within("`--resource`".into()))?;
        file.resources.push(section);
    }
    if args.no_seed {
        file.options.seed = false;
    }
    if args.no_ci {
        file.options.ci = false;
    }

    let missing = wizard::Missing {
        name: file.project.name.is_empty(),
        backend: args.backend.is_none() && !from_gave_backend,
        resources: file.resources.is_empty(),
        options: !args.no_seed && !args.no_ci && args.from.is_none(),
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.yes && interactive {
        wizard::fill(&mut file, missing)?;
        // Answers are never thrown away: if anything fails from here on, they are saved
        // for `--from`.
        return generate(&args, global, ui, &file).map_err(|e| match save_answers(&file) {
            Ok(path) => Error::usage(format!(
                "{e}\nyour answers are saved in `{}`: fix what the error names there (or not at all, if it was about the destination), then run `dieselkit new-project --from {}`",
                path.display(),
                path.display()
            )),
            Err(_) => e,
        });
    } else if missing.name {
        return Err(Error::MissingAnswer {
            what: "the project name".into(),
            hint:
                "pass it as `dieselkit new-project NAME` or set `project.name` in the `--from` file"
                    .into(),
        });
    }
    if file.resources.is_empty() {
        return Err(Error::MissingAnswer {
            what: "at least one resource".into(),
            hint: "pass `--resource 'author name:string(100)'` (repeatable) or `--from dieselkit.toml`".into(),
        });
    }

    generate(&args, global, ui, &file)
}

/// Save wizard answers to a new `dieselkit-answers[-N].toml` in the current directory.
fn save_answers(file: &ProjectFile) -> Result<PathBuf> {
    let text = toml::to_string(file).map_err(|e| Error::Internal(e.to_string()))?;
    for n in 0..100 {
        let path = PathBuf::from(if n == 0 {
            "dieselkit-answers.toml".to_string()
        } else {
            format!("dieselkit-answers-{n}.toml")
        });
        if !path.exists() {
            fs_err::write(&path, format!("# Answers from the dieselkit new-project wizard; pass this file to `--from`.\n\n{text}"))?;
            return Ok(path);
        }
    }
    Err(Error::Internal("no free name for the answers file".into()))
}

/// Validate the answers, render and write the project.
fn generate(
    args: &NewProjectArgs,
    global: &GlobalArgs,
    ui: &Ui,
    file: &ProjectFile,
) -> Result<i32> {
    let model = Model::from_file(file)?;
    let epoch = plan::generation_epoch()?;
    let templates = args.templates.clone().or_else(|| {
        let dir = args.from.as_ref()?.parent()?.join(".dieselkit/templates");
        dir.is_dir().then_some(dir)
    });
    if let Some(dir) = &templates {
        ui.detail("Templates", format!("overriding from `{}`", dir.display()));
    }
    let mut files = plan::new_project(&model, epoch, templates.as_deref())?;
    if crate::format::wanted(args.fmt, args.no_fmt, ui) {
        crate::format::rustfmt(&mut files, None, &|_, _| None)?;
    }
    let dest = destination(args, global, &model);

    if args.dry_run {
        ui.data(write::describe_tree(&dest, &files));
        ui.status(
            "Dry run",
            format!("{} files; nothing was written", files.len() + 1),
        );
        return Ok(0);
    }
    write::write_project(&dest, &files, args.force)?;
    crate::write::write_bases(&dest, &files)?;
    for f in &files {
        ui.detail("Wrote", f.path.display().to_string());
    }
    ui.status(
        "Created",
        format!(
            "`{}` ({} backend, {} resource{}, {} files) in `{}`",
            model.name,
            model.backend,
            model.resources.len(),
            if model.resources.len() == 1 { "" } else { "s" },
            files.len() + 1,
            dest.display()
        ),
    );
    let server_step = match crate::dialect::of(model.backend).server_name() {
        None => String::new(),
        Some(server) => format!(
            "\n    # start a {server} server; edit DATABASE_URL in .env if it is not at the default"
        ),
    };
    ui.note(format!(
        "\nNext steps:\n    cd {}{server_step}\n    dieselkit migrate run     # create the database and apply migrations\n    cargo run --bin seed      # optional sample data\n    cargo run                 # serve on http://127.0.0.1:8000\n    cargo test",
        dest.display()
    ));
    Ok(0)
}

fn destination(args: &NewProjectArgs, global: &GlobalArgs, model: &Model) -> PathBuf {
    match &args.output {
        Some(dir) => dir.clone(),
        None => global
            .project_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(&model.name),
    }
}
