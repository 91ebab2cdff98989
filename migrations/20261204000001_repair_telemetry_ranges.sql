-- Telemetry that cannot poison the analytics. Before the server checked telemetry ranges at the
-- door, a client could store values such as typing_speed = 1e308, and from then on avg() over the
-- column overflowed and the analytics endpoint failed for everyone. Values outside the documented
-- ranges (shared/src/telemetry_bounds.rs) become NULL — the rest of each row is kept — and CHECK
-- constraints keep them out from now on. The number of repaired values is reported as a NOTICE.
DO $$
DECLARE
    typing_speed_fixed bigint;
    shown_fixed bigint;
    accepted_fixed bigint;
    caret_fixed bigint;
    length_fixed bigint;
    position_fixed bigint;
BEGIN
    -- NaN compares greater than every number in PostgreSQL, so the upper bound catches it too.
    UPDATE behavioral_telemetry SET typing_speed = NULL WHERE NOT (typing_speed >= 0 AND typing_speed <= 10000);
    GET DIAGNOSTICS typing_speed_fixed = ROW_COUNT;
    UPDATE behavioral_telemetry SET time_since_last_shown = NULL WHERE NOT (time_since_last_shown BETWEEN 0 AND 2592000000);
    GET DIAGNOSTICS shown_fixed = ROW_COUNT;
    UPDATE behavioral_telemetry SET time_since_last_accepted = NULL WHERE NOT (time_since_last_accepted BETWEEN 0 AND 2592000000);
    GET DIAGNOSTICS accepted_fixed = ROW_COUNT;
    UPDATE contextual_telemetry SET caret_line = NULL WHERE NOT (caret_line BETWEEN 0 AND 10000000);
    GET DIAGNOSTICS caret_fixed = ROW_COUNT;
    UPDATE contextual_telemetry SET document_char_length = NULL WHERE NOT (document_char_length BETWEEN 0 AND 1000000000);
    GET DIAGNOSTICS length_fixed = ROW_COUNT;
    UPDATE contextual_telemetry SET relative_document_position = NULL WHERE NOT (relative_document_position >= 0 AND relative_document_position <= 1);
    GET DIAGNOSTICS position_fixed = ROW_COUNT;
    RAISE NOTICE 'telemetry repaired (values set to NULL): typing_speed %, time_since_last_shown %, time_since_last_accepted %, caret_line %, document_char_length %, relative_document_position %',
        typing_speed_fixed, shown_fixed, accepted_fixed, caret_fixed, length_fixed, position_fixed;
END $$;

ALTER TABLE behavioral_telemetry
    ADD CONSTRAINT behavioral_telemetry_typing_speed_range CHECK (typing_speed >= 0 AND typing_speed <= 10000),
    ADD CONSTRAINT behavioral_telemetry_time_since_last_shown_range CHECK (time_since_last_shown BETWEEN 0 AND 2592000000),
    ADD CONSTRAINT behavioral_telemetry_time_since_last_accepted_range CHECK (time_since_last_accepted BETWEEN 0 AND 2592000000);

ALTER TABLE contextual_telemetry
    ADD CONSTRAINT contextual_telemetry_caret_line_range CHECK (caret_line BETWEEN 0 AND 10000000),
    ADD CONSTRAINT contextual_telemetry_document_char_length_range CHECK (document_char_length BETWEEN 0 AND 1000000000),
    ADD CONSTRAINT contextual_telemetry_relative_document_position_range CHECK (relative_document_position >= 0 AND relative_document_position <= 1);
