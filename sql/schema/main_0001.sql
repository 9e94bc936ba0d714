-- name: schema/main_0001
-- purpose: AiiDA psql_dos initial main-branch schema: the ten tables with aiida-core's exact names, types, constraints and indexes.
-- params: -
-- returns: nothing
-- kind: script
-- Evidence: tests/data/aiida_main_0002.pg_dump.sql (pg_dump of an aiida-core 2.9.4 database); column order as
-- created there. No server defaults besides the id sequences: every other default is filled in by the client.

CREATE TABLE db_dbuser (
    id serial NOT NULL,
    email character varying(254) NOT NULL,
    first_name character varying(254) NOT NULL,
    last_name character varying(254) NOT NULL,
    institution character varying(254) NOT NULL,
    CONSTRAINT db_dbuser_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbuser_email UNIQUE (email)
);
CREATE INDEX ix_pat_db_dbuser_email ON db_dbuser USING btree (email varchar_pattern_ops);

CREATE TABLE db_dbcomputer (
    id serial NOT NULL,
    uuid uuid NOT NULL,
    label character varying(255) NOT NULL,
    hostname character varying(255) NOT NULL,
    description text NOT NULL,
    scheduler_type character varying(255) NOT NULL,
    transport_type character varying(255) NOT NULL,
    metadata jsonb NOT NULL,
    CONSTRAINT db_dbcomputer_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbcomputer_label UNIQUE (label),
    CONSTRAINT uq_db_dbcomputer_uuid UNIQUE (uuid)
);
CREATE INDEX ix_pat_db_dbcomputer_label ON db_dbcomputer USING btree (label varchar_pattern_ops);

CREATE TABLE db_dbauthinfo (
    id serial NOT NULL,
    aiidauser_id integer NOT NULL,
    dbcomputer_id integer NOT NULL,
    metadata jsonb NOT NULL,
    auth_params jsonb NOT NULL,
    enabled boolean NOT NULL,
    CONSTRAINT db_dbauthinfo_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbauthinfo_aiidauser_id_dbcomputer_id UNIQUE (aiidauser_id, dbcomputer_id),
    CONSTRAINT fk_db_dbauthinfo_aiidauser_id_db_dbuser FOREIGN KEY (aiidauser_id)
        REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT fk_db_dbauthinfo_dbcomputer_id_db_dbcomputer FOREIGN KEY (dbcomputer_id)
        REFERENCES db_dbcomputer (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_aiidauser_id ON db_dbauthinfo USING btree (aiidauser_id);
CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_dbcomputer_id ON db_dbauthinfo USING btree (dbcomputer_id);

CREATE TABLE db_dbgroup (
    id serial NOT NULL,
    uuid uuid NOT NULL,
    label character varying(255) NOT NULL,
    type_string character varying(255) NOT NULL,
    "time" timestamp with time zone NOT NULL,
    description text NOT NULL,
    extras jsonb NOT NULL,
    user_id integer NOT NULL,
    CONSTRAINT db_dbgroup_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbgroup_label_type_string UNIQUE (label, type_string),
    CONSTRAINT uq_db_dbgroup_uuid UNIQUE (uuid),
    CONSTRAINT fk_db_dbgroup_user_id_db_dbuser FOREIGN KEY (user_id)
        REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dbgroup_db_dbgroup_label ON db_dbgroup USING btree (label);
CREATE INDEX ix_db_dbgroup_db_dbgroup_type_string ON db_dbgroup USING btree (type_string);
CREATE INDEX ix_db_dbgroup_db_dbgroup_user_id ON db_dbgroup USING btree (user_id);
CREATE INDEX ix_pat_db_dbgroup_label ON db_dbgroup USING btree (label varchar_pattern_ops);
CREATE INDEX ix_pat_db_dbgroup_type_string ON db_dbgroup USING btree (type_string varchar_pattern_ops);

CREATE TABLE db_dbnode (
    id serial NOT NULL,
    uuid uuid NOT NULL,
    node_type character varying(255) NOT NULL,
    process_type character varying(255),
    label character varying(255) NOT NULL,
    description text NOT NULL,
    ctime timestamp with time zone NOT NULL,
    mtime timestamp with time zone NOT NULL,
    attributes jsonb,
    extras jsonb,
    repository_metadata jsonb NOT NULL,
    dbcomputer_id integer,
    user_id integer NOT NULL,
    CONSTRAINT db_dbnode_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbnode_uuid UNIQUE (uuid),
    CONSTRAINT fk_db_dbnode_dbcomputer_id_db_dbcomputer FOREIGN KEY (dbcomputer_id)
        REFERENCES db_dbcomputer (id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT fk_db_dbnode_user_id_db_dbuser FOREIGN KEY (user_id)
        REFERENCES db_dbuser (id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dbnode_db_dbnode_ctime ON db_dbnode USING btree (ctime);
CREATE INDEX ix_db_dbnode_db_dbnode_dbcomputer_id ON db_dbnode USING btree (dbcomputer_id);
CREATE INDEX ix_db_dbnode_db_dbnode_label ON db_dbnode USING btree (label);
CREATE INDEX ix_db_dbnode_db_dbnode_mtime ON db_dbnode USING btree (mtime);
CREATE INDEX ix_db_dbnode_db_dbnode_node_type ON db_dbnode USING btree (node_type);
CREATE INDEX ix_db_dbnode_db_dbnode_process_type ON db_dbnode USING btree (process_type);
CREATE INDEX ix_db_dbnode_db_dbnode_user_id ON db_dbnode USING btree (user_id);
CREATE INDEX ix_pat_db_dbnode_label ON db_dbnode USING btree (label varchar_pattern_ops);
CREATE INDEX ix_pat_db_dbnode_node_type ON db_dbnode USING btree (node_type varchar_pattern_ops);
CREATE INDEX ix_pat_db_dbnode_process_type ON db_dbnode USING btree (process_type varchar_pattern_ops);

CREATE TABLE db_dbcomment (
    id serial NOT NULL,
    uuid uuid NOT NULL,
    dbnode_id integer NOT NULL,
    ctime timestamp with time zone NOT NULL,
    mtime timestamp with time zone NOT NULL,
    user_id integer NOT NULL,
    content text NOT NULL,
    CONSTRAINT db_dbcomment_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbcomment_uuid UNIQUE (uuid),
    CONSTRAINT fk_db_dbcomment_dbnode_id_db_dbnode FOREIGN KEY (dbnode_id)
        REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT fk_db_dbcomment_user_id_db_dbuser FOREIGN KEY (user_id)
        REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dbcomment_db_dbcomment_dbnode_id ON db_dbcomment USING btree (dbnode_id);
CREATE INDEX ix_db_dbcomment_db_dbcomment_user_id ON db_dbcomment USING btree (user_id);

CREATE TABLE db_dbgroup_dbnodes (
    id serial NOT NULL,
    dbnode_id integer NOT NULL,
    dbgroup_id integer NOT NULL,
    CONSTRAINT db_dbgroup_dbnodes_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbgroup_dbnodes_dbgroup_id_dbnode_id UNIQUE (dbgroup_id, dbnode_id),
    CONSTRAINT fk_db_dbgroup_dbnodes_dbgroup_id_db_dbgroup FOREIGN KEY (dbgroup_id)
        REFERENCES db_dbgroup (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT fk_db_dbgroup_dbnodes_dbnode_id_db_dbnode FOREIGN KEY (dbnode_id)
        REFERENCES db_dbnode (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbgroup_id ON db_dbgroup_dbnodes USING btree (dbgroup_id);
CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbnode_id ON db_dbgroup_dbnodes USING btree (dbnode_id);

CREATE TABLE db_dblink (
    id serial NOT NULL,
    input_id integer NOT NULL,
    output_id integer NOT NULL,
    label character varying(255) NOT NULL,
    type character varying(255) NOT NULL,
    CONSTRAINT db_dblink_pkey PRIMARY KEY (id),
    CONSTRAINT fk_db_dblink_input_id_db_dbnode FOREIGN KEY (input_id)
        REFERENCES db_dbnode (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT fk_db_dblink_output_id_db_dbnode FOREIGN KEY (output_id)
        REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dblink_db_dblink_input_id ON db_dblink USING btree (input_id);
CREATE INDEX ix_db_dblink_db_dblink_label ON db_dblink USING btree (label);
CREATE INDEX ix_db_dblink_db_dblink_output_id ON db_dblink USING btree (output_id);
CREATE INDEX ix_db_dblink_db_dblink_type ON db_dblink USING btree (type);
CREATE INDEX ix_pat_db_dblink_label ON db_dblink USING btree (label varchar_pattern_ops);
CREATE INDEX ix_pat_db_dblink_type ON db_dblink USING btree (type varchar_pattern_ops);

CREATE TABLE db_dblog (
    id serial NOT NULL,
    uuid uuid NOT NULL,
    "time" timestamp with time zone NOT NULL,
    loggername character varying(255) NOT NULL,
    levelname character varying(50) NOT NULL,
    dbnode_id integer NOT NULL,
    message text NOT NULL,
    metadata jsonb NOT NULL,
    CONSTRAINT db_dblog_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dblog_uuid UNIQUE (uuid),
    CONSTRAINT fk_db_dblog_dbnode_id_db_dbnode FOREIGN KEY (dbnode_id)
        REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ix_db_dblog_db_dblog_dbnode_id ON db_dblog USING btree (dbnode_id);
CREATE INDEX ix_db_dblog_db_dblog_levelname ON db_dblog USING btree (levelname);
CREATE INDEX ix_db_dblog_db_dblog_loggername ON db_dblog USING btree (loggername);
CREATE INDEX ix_pat_db_dblog_levelname ON db_dblog USING btree (levelname varchar_pattern_ops);
CREATE INDEX ix_pat_db_dblog_loggername ON db_dblog USING btree (loggername varchar_pattern_ops);

CREATE TABLE db_dbsetting (
    id serial NOT NULL,
    key character varying(1024) NOT NULL,
    val jsonb,
    description text NOT NULL,
    "time" timestamp with time zone NOT NULL,
    CONSTRAINT db_dbsetting_pkey PRIMARY KEY (id),
    CONSTRAINT uq_db_dbsetting_key UNIQUE (key)
);
CREATE INDEX ix_pat_db_dbsetting_key ON db_dbsetting USING btree (key varchar_pattern_ops);
