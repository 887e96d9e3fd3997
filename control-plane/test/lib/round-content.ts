/** Anything that runs a parameterised query: a pg Client or Pool. */
interface Queryable {
  query(sql: string, params: unknown[]): Promise<unknown>;
}

/**
 * Gives the tenant's default playlist a new clip (round `round`), stored as ScheduleService stores it, so the
 * next Publish changes every screen's document. One statement, cheap next to what benches and fault tests measure.
 */
export async function setRoundContent(db: Queryable, tenantId: string, round: number): Promise<void> {
  await db.query(
    `WITH video AS (
       INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                           content_type, created_by, created_at)
       VALUES (gen_random_uuid(), $1, $2, 1000000, 5000, 'h264', 1920, 1080, $3, 'clip.mp4', 'video/mp4', 'bench', now())
       RETURNING id
     ), playlist AS (
       INSERT INTO playlists (id, tenant_id, name, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, $3, now(), now()) RETURNING id
     ), item AS (
       INSERT INTO playlist_items (id, playlist_id, position, video_id)
       SELECT gen_random_uuid(), playlist.id, 0, video.id FROM playlist, video
     )
     INSERT INTO default_playlists (id, tenant_id, scope, playlist_id)
     SELECT gen_random_uuid(), $1, 'tenant', id FROM playlist
     ON CONFLICT (tenant_id, scope) DO UPDATE SET playlist_id = excluded.playlist_id`,
    [tenantId, round.toString(16).padStart(64, "0"), `round ${round}`],
  );
}
