// Templates are embedded with include_dir!, which notices edits to existing files but not
// added or removed ones; rebuild whenever anything under templates/ changes.
fn main() {
    println!("cargo:rerun-if-changed=templates");
}
