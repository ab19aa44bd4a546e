-- City data: what NYC Open Data says about each lot and building, normalized into one vocabulary.
-- Keys are the natural ones (BBL, BIN, (source, source_id)) because every dataset arrives in any order:
-- no foreign keys between city tables, a violation may land before its building's PLUTO row.

CREATE TABLE properties (
    bbl             char(10) PRIMARY KEY CHECK (bbl ~ '^[1-5][0-9]{9}$'),
    borough         smallint NOT NULL CHECK (borough BETWEEN 1 AND 5),
    block           integer NOT NULL,
    lot             integer NOT NULL,
    address         text,
    zip             text,
    units_res       integer,
    units_total     integer,
    num_floors      numeric(6, 2),
    num_buildings   integer,
    year_built      integer,
    bldg_class      text,
    land_use        text,
    owner_type      text,
    owner_name      text,
    latitude        double precision,
    longitude       double precision,
    pluto_version   text,
    raw             jsonb,
    content_hash    text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX properties_address_idx ON properties (address text_pattern_ops);
CREATE INDEX properties_borough_idx ON properties (borough);

CREATE TABLE buildings (
    bin                 char(7) PRIMARY KEY CHECK (bin ~ '^[1-5][0-9]{6}$'),
    bbl                 char(10),
    hpd_building_id     bigint,
    house_number        text,
    street_name         text,
    zip                 text,
    borough             smallint CHECK (borough BETWEEN 1 AND 5),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX buildings_bbl_idx ON buildings (bbl);
CREATE INDEX buildings_hpd_id_idx ON buildings (hpd_building_id);

-- HPD multiple dwelling registrations and their contacts (owners, agents, managers).
CREATE TABLE registrations (
    registration_id         bigint PRIMARY KEY,
    hpd_building_id         bigint,
    bin                     char(7),
    bbl                     char(10),
    last_registration_date  date,
    registration_end_date   date,
    raw                     jsonb NOT NULL,
    content_hash            text NOT NULL,
    is_deleted              boolean NOT NULL DEFAULT false,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registrations_bbl_idx ON registrations (bbl);
CREATE INDEX registrations_bin_idx ON registrations (bin);

CREATE TABLE registration_contacts (
    contact_id          bigint PRIMARY KEY,
    registration_id     bigint NOT NULL,
    contact_type        text,
    ownership_form      text,
    corporation_name    text,
    first_name          text,
    last_name           text,
    business_address    text,
    raw                 jsonb NOT NULL,
    content_hash        text NOT NULL,
    is_deleted          boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_contacts_registration_idx ON registration_contacts (registration_id);

-- Violations of every agency in one table. `class` keeps the source's own class (HPD A/B/C/I, ECB severity,
-- DOB violation type code); `severity` is the shared vocabulary used by rules and features.
CREATE TABLE violations (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL CHECK (source IN ('HPD', 'DOB', 'DOB_SAFETY', 'ECB', 'HPD_VACATE')),
    source_id           text NOT NULL,
    bbl                 char(10),
    bin                 char(7),
    borough             smallint CHECK (borough BETWEEN 1 AND 5),
    class               text,
    severity            text NOT NULL CHECK (severity IN ('info', 'non_hazardous', 'hazardous',
                                                             'immediately_hazardous', 'unknown')),
    category            text,
    description         text,
    status              text NOT NULL CHECK (status IN ('open', 'closed')),
    status_raw          text,
    issued_date         date,
    status_date         date,
    certify_by_date     date,
    correct_by_date     date,
    certified_date      date,
    hearing_date        date,
    penalty_imposed     numeric(12, 2),
    amount_paid         numeric(12, 2),
    balance_due         numeric(12, 2),
    source_updated_at   timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        text NOT NULL,
    is_deleted          boolean NOT NULL DEFAULT false,
    deleted_at          timestamptz,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_id)
);
CREATE INDEX violations_bbl_idx ON violations (bbl, issued_date DESC);
CREATE INDEX violations_bin_idx ON violations (bin);
CREATE INDEX violations_status_idx ON violations (status, source, issued_date DESC);
CREATE INDEX violations_issued_idx ON violations (issued_date);
CREATE INDEX violations_open_deadlines_idx ON violations (certify_by_date) WHERE status = 'open';
CREATE INDEX violations_hearing_idx ON violations (hearing_date) WHERE hearing_date IS NOT NULL;
CREATE INDEX violations_updated_idx ON violations (updated_at);

-- Complaints: HPD complaint problems, DOB complaints, 311 service requests (HPD and DOB agencies).
CREATE TABLE complaints (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL CHECK (source IN ('HPD', 'DOB', '311')),
    source_id           text NOT NULL,
    complaint_id        text,
    bbl                 char(10),
    bin                 char(7),
    borough             smallint CHECK (borough BETWEEN 1 AND 5),
    category            text,
    subcategory         text,
    priority            text,
    status              text NOT NULL CHECK (status IN ('open', 'closed')),
    status_raw          text,
    received_date       date,
    status_date         date,
    closed_date         date,
    is_duplicate        boolean NOT NULL DEFAULT false,
    source_updated_at   timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        text NOT NULL,
    is_deleted          boolean NOT NULL DEFAULT false,
    deleted_at          timestamptz,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_id)
);
CREATE INDEX complaints_bbl_idx ON complaints (bbl, received_date DESC);
CREATE INDEX complaints_bin_idx ON complaints (bin);
CREATE INDEX complaints_status_idx ON complaints (status, source, received_date DESC);
CREATE INDEX complaints_received_idx ON complaints (received_date);
CREATE INDEX complaints_updated_idx ON complaints (updated_at);

-- Every status change the ingester observed, with the source's own date of the change where it has one.
CREATE TABLE status_history (
    id              bigserial PRIMARY KEY,
    record_kind     text NOT NULL CHECK (record_kind IN ('violation', 'complaint')),
    record_id       bigint NOT NULL,
    source          text NOT NULL,
    source_id       text NOT NULL,
    old_status      text,
    new_status      text NOT NULL,
    old_status_raw  text,
    new_status_raw  text,
    changed_on      date,
    observed_at     timestamptz NOT NULL DEFAULT now(),
    run_id          bigint
);
CREATE INDEX status_history_record_idx ON status_history (record_kind, record_id, observed_at);
CREATE INDEX status_history_observed_idx ON status_history (observed_at);
