//! Gems: not supported yet (its issue builds it on the crates spine).

use async_trait::async_trait;

use crate::archive::{ArchiveError, Files};
use crate::compare::Rule;
use crate::ecosystem::{Ecosystem, Handler, Package, RegistryCx, RegistryError, Resolved};
use crate::source::SourceView;

pub struct Gems;

#[async_trait]
impl Handler for Gems {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Gems
    }

    async fn resolve(
        &self,
        _cx: &RegistryCx<'_>,
        _name: &str,
        _version: Option<&str>,
    ) -> Result<Resolved, RegistryError> {
        Err(RegistryError::Unsupported(
            "gems is not supported yet".into(),
        ))
    }

    async fn versions(
        &self,
        _cx: &RegistryCx<'_>,
        _name: &str,
    ) -> Result<Vec<String>, RegistryError> {
        Err(RegistryError::Unsupported(
            "gems is not supported yet".into(),
        ))
    }

    fn read(&self, _resolved: &Resolved, _bytes: &[u8]) -> Result<Package, ArchiveError> {
        let _ = Files::default();
        Err(ArchiveError::Unreadable("gems is not supported yet".into()))
    }

    fn package_dirs(&self, _pkg: &Package, _source: &SourceView<'_>) -> Vec<String> {
        vec![String::new()]
    }

    fn source_identity(
        &self,
        _pkg: &Package,
        _source: &SourceView<'_>,
    ) -> Option<(String, Option<String>)> {
        None
    }

    fn rules(&self) -> Vec<Box<dyn Rule>> {
        Vec::new()
    }
}
