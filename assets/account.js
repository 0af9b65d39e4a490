// The lobby's account panel: sign up, sign in and out, the leaderboard with the
// player's own rank, and their profile with recent matches (docs/ACCOUNTS.md).
// Guests need none of it: Quick play works signed out, with a guest token.

const STORE_KEY = "arena.account";

/** The stored account session, if still valid. */
function stored() {
  const session = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
  return session && session.expires_at * 1000 > Date.now() + 60000 ? session : null;
}

/** Forget the account session (signed out, or the server no longer accepts its token). */
export function forgetAccount() {
  localStorage.removeItem(STORE_KEY);
}

async function call(method, path, { body, token } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body), cache: "no-store" });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(answer.error || response.statusText), { status: response.status });
  return answer;
}

const el = (tag, className, text) => Object.assign(document.createElement(tag), { className, textContent: text ?? "" });

const rating = (r) => (r == null ? "—" : r.toFixed(2));

export class Account {
  constructor(root) {
    this.root = root;
    this.status = root.querySelector("#account-status");
    this.signedOut = root.querySelector("#account-signed-out");
    this.signedIn = root.querySelector("#account-signed-in");
    this.board = root.querySelector("#leaderboard");
    this.myRank = root.querySelector("#my-rank");
    this.profile = root.querySelector("#profile");
    this.matches = root.querySelector("#matches");
    const credentials = () => ({
      name: root.querySelector("#account-name").value.trim(),
      password: root.querySelector("#account-password").value,
    });
    // Enter or "Sign in" submits the form; "Sign up" makes the account.
    root.querySelector("#account-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.enter("/api/login", credentials());
    });
    root.querySelector("#sign-up").addEventListener("click", () => this.enter("/api/accounts", credentials()));
    root.querySelector("#sign-out").addEventListener("click", () => this.signOut());
    root.querySelector("#account-refresh").addEventListener("click", () => this.refresh());
  }

  /** The account's session for joining a room, or null to play as a guest. */
  session() {
    return stored();
  }

  say(text) {
    this.status.textContent = text;
  }

  async enter(path, credentials) {
    try {
      const session = await call("POST", path, { body: credentials });
      localStorage.setItem(STORE_KEY, JSON.stringify(session));
      this.root.querySelector("#account-password").value = "";
      this.say("");
      await this.refresh();
    } catch (err) {
      this.say(err.message);
    }
  }

  async signOut() {
    const session = stored();
    forgetAccount();
    if (session) await call("POST", "/api/logout", { token: session.token }).catch(() => {});
    this.refresh();
  }

  /** Redraw: who is signed in, the leaderboard and own rank, the profile and matches. */
  async refresh() {
    const session = stored();
    this.signedOut.hidden = !!session;
    this.signedIn.hidden = !session;
    this.profile.hidden = !session;
    // Say who at once, from the stored session: the profile fetch below only confirms it.
    if (session) this.root.querySelector("#account-who").textContent = `Signed in as ${session.name}`;
    try {
      const top = await call("GET", "/api/leaderboard?limit=10");
      this.board.replaceChildren(
        ...top.lines.map((l) => {
          const line = el("li", l.player_id === session?.player_id ? "line me" : "line", `#${l.rank} ${l.name} — ${rating(l.rating)}`);
          line.dataset.playerId = l.player_id;
          return line;
        }),
      );
      if (!session) {
        this.myRank.textContent = top.players ? `${top.players} ranked players` : "No ranked players yet";
        return;
      }
      const [around, me, history] = await Promise.all([
        call("GET", "/api/leaderboard?around=me", { token: session.token }),
        call("GET", `/api/players/${session.player_id}`),
        call("GET", `/api/players/${session.player_id}/matches?limit=5`),
      ]);
      this.myRank.textContent = around.me ? `Your rank: #${around.me} of ${around.players}` : "Play a round to be ranked";
      this.showProfile(me, history.matches);
    } catch (err) {
      // A revoked token (signed out elsewhere, password changed): back to guest.
      if (err.status === 401 && session) {
        forgetAccount();
        this.say("Your session ended: sign in again.");
        return this.refresh();
      }
      this.say(`Cannot load the leaderboard: ${err.message}`);
    }
  }

  showProfile(me, matches) {
    const s = me.stats;
    this.root.querySelector("#account-who").textContent = `Signed in as ${me.name}`;
    this.root.querySelector("#profile-stats").textContent =
      `Rating ${rating(s.rating)} · ${s.rounds} rounds · ${s.wins} wins · ${s.kills} kills · ${s.deaths} deaths`;
    this.matches.replaceChildren(
      ...matches.map((m) => {
        const change = m.me.rating_after == null ? "" : `, rating ${rating(m.me.rating_before)} → ${rating(m.me.rating_after)}`;
        const item = el("li", "match", `${m.room_name} (${m.room_id}) round ${m.round}: place ${m.me.place} of ${m.player_count}, ${m.me.kills} kills${change}`);
        item.dataset.roomId = m.room_id;
        return item;
      }),
    );
    if (!matches.length) this.matches.replaceChildren(el("li", "match none", "No matches yet"));
  }
}
