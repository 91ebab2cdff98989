-- Every change to a user row or a config row is announced on the `user_data_changed` channel
-- (LISTEN/NOTIFY), whoever makes it: this server, another instance, a study's bulk move, an operator
-- in psql. Servers drop their cached account views when they hear it (services::profile_cache).
-- Statement-level, and PostgreSQL folds identical notifications of one transaction into one, so a
-- bulk update costs one message. Delivered at commit, never for a rolled-back change.
CREATE FUNCTION notify_user_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('user_data_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER user_data_changed AFTER UPDATE OR DELETE ON "user"
    FOR EACH STATEMENT EXECUTE FUNCTION notify_user_data_changed();
CREATE TRIGGER config_data_changed AFTER UPDATE OR DELETE ON config
    FOR EACH STATEMENT EXECUTE FUNCTION notify_user_data_changed();
