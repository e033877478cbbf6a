//! Flow 5: flow REST nodes as Genesys Cloud Data Actions.
mod action;
pub mod template;

pub use action::{
    DataAction, DataActionBuilder, PreparedRequest, DEFAULT_REQUEST_TEMPLATE,
    DEFAULT_SUCCESS_TEMPLATE, INPUT_TYPES, MAX_NAME_CHARS, METHODS, RESERVED_INPUTS,
    TIMEOUT_SECONDS,
};
