-- A repository is identified by its project and its name together, not by its name alone: the
-- store finds every repository by both, so a project can never reach another project's
-- repository that has the same name, nor take over the name (it gets a repository of its own).
DROP INDEX registry_repositories_name;
DROP INDEX registry_repositories_project;
CREATE UNIQUE INDEX registry_repositories_project_name ON registry_repositories (project_id, name);
CREATE INDEX registry_repositories_name ON registry_repositories (name);
