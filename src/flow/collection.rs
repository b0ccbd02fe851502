//! Where a kind's resources live and which API serves them: the Flow Service's collections,
//! and Data Prep's beside them ([`super::prep`]).

/// Which API serves a collection, and so how its resources are read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// The Flow Service: a read answers `{items: [...]}`, a listing is filtered by
    /// `property=field==a,b,…` and paged by `_links.next`, a change is a JSON Patch behind
    /// `If-Match: etag`, a resource is deleted by DELETE.
    FlowService,
    /// Data Prep (`/data/foundation/conversion`, flow-service-explore-runs §4): a read
    /// answers the bare object; a listing is `{data, _page}`, filtered by `name` alone and
    /// paged by offset (`start`); a resource has a `version` (a number, taken for its etag)
    /// where the Flow Service has an etag; a change is a PUT of the whole body, which moves
    /// the version on; nothing is deleted (no DELETE is documented).
    DataPrep,
}

/// A collection of resources: its path under the Flow Service base (another service's
/// beside it, as `/../conversion/mappingSets`), and the API that serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collection {
    pub path: &'static str,
    pub api: Api,
}

impl Collection {
    /// A Flow Service collection.
    pub const fn flow(path: &'static str) -> Collection {
        Collection {
            path,
            api: Api::FlowService,
        }
    }

    /// A Data Prep collection, by its path under the Data Prep base (`/mappingSets`).
    pub const fn prep(path: &'static str) -> Collection {
        Collection {
            path,
            api: Api::DataPrep,
        }
    }

    /// Its path from the Flow Service base (which every request is sent under).
    pub fn from_base(self) -> String {
        match self.api {
            Api::FlowService => self.path.to_owned(),
            Api::DataPrep => format!("/../conversion{}", self.path),
        }
    }

    /// Its path as AEP documents it, for messages.
    pub fn label(self) -> String {
        match self.api {
            Api::FlowService => self.path.to_owned(),
            Api::DataPrep => format!("/data/foundation/conversion{}", self.path),
        }
    }

    /// Whether AEP can delete its resources.
    pub fn deletes(self) -> bool {
        self.api == Api::FlowService
    }

    /// Whether a change to one is a replacement of its whole body (a PUT), the version moved
    /// on, rather than a JSON Patch of what changed.
    pub fn replaced_whole(self) -> bool {
        self.api == Api::DataPrep
    }

    /// Whether a listing of it takes `property` filters (by id, by parent, several names at
    /// once); Data Prep's takes one `name`.
    pub fn filters(self) -> bool {
        self.api == Api::FlowService
    }
}

impl From<&'static str> for Collection {
    fn from(path: &'static str) -> Collection {
        Collection::flow(path)
    }
}
