-- Threadline on OpenLink Virtuoso 7.2: run once as dba, e.g.  isql-vt 1111 dba <password> deploy/virtuoso-setup.sql
-- (docs/stores.md, "Virtuoso"). Threadline refuses to open a Virtuoso store where this was not done.

-- SPARQL Update for the /sparql endpoint's user (Threadline writes through SPARQL Update and the Graph Store
-- Protocol); put /sparql behind your own network boundary or use /sparql-auth.
grant SPARQL_UPDATE to "SPARQL";

-- Virtuoso's own graphs stay out of SPARQL answers: without this they are part of the union default graph and of
-- GRAPH ?g, and every count, listing and backup of the thread includes them (about 2,500 triples on a fresh
-- database). Its query-level DEFINE input:default-graph-exclude gives wrong ASK answers in 7.2.5, so the graphs
-- are made private instead.
DB.DBA.RDF_GRAPH_GROUP_CREATE ('http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs', 1);
DB.DBA.RDF_GRAPH_GROUP_INS ('http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs', 'http://www.openlinksw.com/schemas/virtrdf#');
DB.DBA.RDF_GRAPH_GROUP_INS ('http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs', 'http://www.w3.org/ns/ldp#');
DB.DBA.RDF_GRAPH_GROUP_INS ('http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs', 'http://localuriqaserver/sparql');
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 0, 1);
