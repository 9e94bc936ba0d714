-- name: query/jit_off_here
-- purpose: JIT off until the end of the current (implicit, pipelined) transaction, for one QueryBuilder statement that walks ancestors/descendants on an autocommit connection (see query/jit_off for why).
-- params: -
-- returns: the new setting
SELECT set_config('jit', 'off', true);
