//! What a listing selects and in which order: filters on a connection's fields, the orders
//! of a listing, and a connection's position in one.
//!
//! The store applies them; [`crate::query`] reads them from a request's query string.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::connection::Connection;

/// A field `property` filters can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Id,
    Name,
    Description,
    SpecId,
    State,
    CreatedAt,
    UpdatedAt,
}

impl Field {
    /// Whether the field is a time (ms), compared as a number.
    pub fn is_numeric(self) -> bool {
        matches!(self, Field::CreatedAt | Field::UpdatedAt)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

/// One `property=field<op>value[,value…]` filter: the connection matches when its field
/// stands in `op` to any of the values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub field: Field,
    pub op: Op,
    pub values: Vec<String>,
}

impl Filter {
    pub fn matches(&self, c: &Connection) -> bool {
        let text = |v: &str| -> bool {
            match self.field {
                Field::Id => c.id == v,
                Field::Name => c.name == v,
                Field::Description => c.description.as_deref() == Some(v),
                Field::SpecId => c.spec_id.eq_ignore_ascii_case(v),
                Field::State => c.state.as_str() == v,
                Field::CreatedAt | Field::UpdatedAt => false,
            }
        };
        if self.field.is_numeric() {
            let actual = if self.field == Field::CreatedAt {
                c.created_at
            } else {
                c.updated_at
            };
            return self
                .values
                .iter()
                .filter_map(|v| v.parse::<i64>().ok())
                .any(|v| match self.op {
                    Op::Eq => actual == v,
                    Op::Gt => actual > v,
                    Op::Lt => actual < v,
                    Op::Ge => actual >= v,
                    Op::Le => actual <= v,
                });
        }
        self.values.iter().any(|v| text(v))
    }
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// The default: most recently created or updated first.
    #[serde(rename = "-updatedAt")]
    UpdatedDesc,
    #[serde(rename = "updatedAt")]
    UpdatedAsc,
    #[serde(rename = "name")]
    NameAsc,
    #[serde(rename = "-name")]
    NameDesc,
}

impl Order {
    pub fn compare(self, a: &Key, b: &Key) -> Ordering {
        let natural = a.cmp(b);
        match self {
            Order::UpdatedDesc | Order::NameDesc => natural.reverse(),
            Order::UpdatedAsc | Order::NameAsc => natural,
        }
    }

    /// Whether `key` comes after `cursor` in this order.
    pub fn follows(self, key: &Key, cursor: &Key) -> bool {
        self.compare(key, cursor) == Ordering::Greater
    }
}

/// A connection's position in an order: its sequence number, or its name (then id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    Seq(u64),
    Name(String, String),
}
