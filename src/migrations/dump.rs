//! A normalized, sortable description of a database's schema (one text line per column,
//! index, constraint and trigger), read from the catalogs. `verify` compares these dumps
//! before and after each down.sql. Diesel's and dieselkit's bookkeeping tables are left out.

use crate::spec::Backend;

pub fn queries(backend: Backend) -> &'static [&'static str] {
    crate::dialect::of(backend).schema_dump_queries()
}
