-- Roomkeeper's companion module for Prosody (0.12 and later). Optional, recommended.
--
-- Load it on the MUC component of a Jitsi deployment, and on every other MUC component
-- where a display name is shown (jitsi-meet's lobby and breakout rooms): there it only
-- takes join codes out of names, as nobody subscribes to its events. Only Roomkeeper's
-- service account may use it (roomkeeper@auth.<domain> unless roomkeeper_accounts says
-- otherwise):
--
--   Component "conference.meet.example.org" "muc"
--       modules_enabled = { ...; "roomkeeper" }
--       -- roomkeeper_accounts = { "roomkeeper@auth.meet.example.org" }
--   Component "lobby.meet.example.org" "muc"
--       modules_enabled = { "roomkeeper" }
--
-- It gives the service what an outsider cannot get through plain MUC administration
-- (docs/JITSI-SETUP.md):
--   * join codes: a display name ending in "(RK-CODE)" (Roomkeeper's "Join as moderator"
--     link puts it there) loses that part before Prosody stores or broadcasts the
--     presence, so nobody else in the meeting (or its lobby) ever sees it; the code goes
--     to the service alone, once the occupant is in the room, and once per occupant
--     (the client keeps it in every presence update);
--   * the occupants of a room with display names and join times, in one query;
--   * a real kick (role none, status 307, as the Jitsi web client expects);
--   * pushed events, so the service need not poll: every occupant change (join, leave,
--     role or affiliation, display name), room configuration changes (password,
--     members-only, lobby) and destroyed rooms, sent as messages to the service's connection;
--   * the owner's lobby, on jitsi-meet's own lobby plugin (muc_lobby_rooms): a room the
--     service names is members-only with its lobby from the moment it is created, before
--     anyone is inside; who knocks is pushed (from the lobby component's copy of this
--     module) and listed; the service turns the lobby on or off, admits (a mediated
--     invite, as a moderator's "admit") and denies (a kick from the lobby room, as
--     "reject"). The focus passes by itself; Jibri passes with jitsi-meet's own
--     muc_lobby_whitelist (the recorders' domain; docs/JITSI-SETUP.md).
--
-- Protocol (namespace below), all from an account in roomkeeper_accounts:
--   iq get  to ROOM  <room/>                   -> <room password members_only><occupant .../>*</room>
--   iq set  to ROOM  <moderator nick grant/>   -> the room after granting (grant='1') or revoking
--   iq set  to ROOM  <kick nick='…'/>          -> the room after the kick
--   iq set  to ROOM  <lobby on='1|0'/>         -> the room after turning its lobby on or off
--   iq set  to ROOM  <admit nick='…'/>         -> the room after admitting that knocker
--   iq set  to ROOM  <deny nick='…'/>          -> the room after sending that knocker away
--   (the room's answer carries lobby='1' and a <knocker nick name jid session since/> for
--   everyone in its lobby who is not a member; admit and deny take a knocker's nick)
--   (a nick not in the room: error recipient-unavailable; no such room: item-not-found)
--   iq set  to HOST  <subscribe/>           -> <subscribed owner='1|0' prosody='VERSION' revision='N'/>;
--   iq set  to HOST  <lobbies><room jid/>*</lobbies>
--                    -> the rooms whose lobby is on from their creation (replacing the
--                       last list)
--   events follow as <message from=HOST><occupant|left|config|code|destroyed|knocker|knock-left room='ROOM-JID' …/></message>
--   (knocker: someone in the room's lobby; knock-left: gone from it, by nick;
--   code with lobby='1': a join code from someone knocking, by their lobby nick)
--   (config carries by='NICK' when an occupant changed it, service='1' when this account did;
--   code: a join code found in a display name, with session = the connection that sent
--   it, see below; occupant: session = the occupant's connection)
--   (owner: whether Prosody makes this account owner of every room, which removing a
--   password and ending a meeting need; Prosody 13 does only with
--   component_admins_as_room_owners = true)

local st = require "util.stanza";
local jid = require "util.jid";

local NS = "urn:roomkeeper:prosody:1";
-- What this module does for the service, raised whenever that changes (occupant-keyed
-- trust, codes only for occupants who are in, ...). Roomkeeper compares it with the one
-- it was built with and says when roomkeeper-prosody is of another version.
local REVISION = "3";
local NICK_NS = "http://jabber.org/protocol/nick";
local MUC_USER_NS = "http://jabber.org/protocol/muc#user";

-- By default the account Roomkeeper's docs suggest, on the auth host next to this
-- component: conference.meet.example.org -> roomkeeper@auth.meet.example.org (for
-- docker-jitsi-meet's muc.meet.jitsi: roomkeeper@auth.meet.jitsi).
local default_account = "roomkeeper@auth." .. (module.host:match("^[^.]+%.(.+)$") or module.host);
-- The component's list, else the global one, else the default; never a union: naming
-- another account must take the default's access away (the inherited form would keep
-- the default in the set).
local accounts = module:get_option_set("roomkeeper_accounts", { default_account });
local muc = module:depends("muc");

-- The service connections that asked for events (full JID -> the component they asked),
-- shared with this module's copy on the lobby component, which tells them who knocks. A
-- connection that has gone away is dropped at the next event instead of filling anyone's
-- offline storage.
local subscribers = module:shared("/roomkeeper/subscribers");
-- Rooms whose lobby is on from their creation (room JID -> true), as the service last
-- said.
local lobby_rooms = module:shared("/roomkeeper/lobby-rooms");
-- When each occupant joined, for "time in the meeting" and "knocking since":
-- joined_at[room JID][nick], for meetings and their lobbies alike.
local joined_at = module:shared("/roomkeeper/joined-at");
-- Join codes taken from joining occupants, told once they are in: codes[room JID][nick].
local codes = {};
-- Codes told per occupant connection: told[room JID][session] = { count = n; [code] = true }.
local told = {};
-- More codes than an owner with a fresh link ever sends: the rest of a flood is dropped
-- here, before it costs the service anything.
local MAX_CODES_PER_OCCUPANT = 3;

local function joined(room, nick)
	local times = joined_at[room.jid];
	return times and times[nick];
end

local function allowed(stanza)
	return accounts:contains(jid.bare(stanza.attr.from));
end

local function flag(value)
	return value and "1" or "0";
end

local function display_name(occupant)
	local presence = occupant:get_presence();
	return presence and presence:get_child_text("nick", NICK_NS) or nil;
end

local function occupant_element(room, occupant)
	local nick = jid.resource(occupant.nick);
	local since = joined(room, nick);
	return st.stanza("occupant", {
		xmlns = NS;
		room = room.jid;
		nick = nick;
		jid = occupant.bare_jid;
		-- The occupant's connection: who this is, which the nick (chosen by the client)
		-- is not. Roomkeeper's trust belongs to it and ends with it.
		session = occupant.jid;
		role = occupant.role or "none";
		affiliation = room:get_affiliation(occupant.bare_jid) or "none";
		joined = since and tostring(since) or nil;
		name = display_name(occupant);
	});
end

-- The lobby room of a main room whose lobby is on (jitsi-meet's plugin keeps its JID).
local function lobby_of(room)
	local lobby_jid = room._data.lobbyroom;
	if not lobby_jid or not room:get_members_only() then return nil; end
	local host = prosody.hosts[jid.host(lobby_jid)];
	local lobby_muc = host and host.modules.muc;
	return lobby_muc and lobby_muc.get_room_from_jid(lobby_jid);
end

-- Someone in a lobby room who is knocking: not a member of the main room (a moderator's
-- client also joins the lobby, to see who knocks; the plugin mirrors the main room's
-- affiliations there).
local function knocking(lobby, occupant)
	local affiliation = lobby.main_room:get_affiliation(occupant.bare_jid);
	return not affiliation or affiliation == "none";
end

local function knocker_element(lobby, occupant)
	local since = joined(lobby, jid.resource(occupant.nick));
	return st.stanza("knocker", {
		xmlns = NS;
		room = lobby.main_room.jid;
		nick = jid.resource(occupant.nick);
		jid = occupant.bare_jid;
		session = occupant.jid;
		since = since and tostring(since) or nil;
		name = display_name(occupant);
	});
end

-- Whether each room's lobby was on in the last configuration told (room JID -> bool).
local lobby_told = {};

local function config_element(room, actor)
	lobby_told[room.jid] = lobby_of(room) ~= nil;
	local by, service;
	if actor then
		service = accounts:contains(jid.bare(actor)) and "1" or nil;
		by = jid.resource(room:get_occupant_jid(actor) or "");
		if by == "" then by = nil; end
	end
	return st.stanza("config", {
		xmlns = NS;
		room = room.jid;
		password = flag((room:get_password() or "") ~= "");
		members_only = flag(room:get_members_only());
		lobby = flag(lobby_told[room.jid]);
		by = by;
		service = service;
	});
end

-- Sends an event to the service connections subscribed at `host` (this component by
-- default; the main room's for a lobby's events).
local function push(payload, host)
	host = host or module.host;
	for subscriber, subscribed_at in pairs(subscribers) do
		if not prosody.full_sessions[subscriber] then
			subscribers[subscriber] = nil;
		elseif subscribed_at == host then
			module:send(st.message({ from = host; to = subscriber }):add_child(payload));
		end
	end
end


local function refuse(event, condition, text)
	event.origin.send(st.error_reply(event.stanza, "auth", condition, text));
	return true;
end

-- Asks Prosody's own room code, on a room object that is never registered: the answer
-- then includes every rule that decides it (0.12 makes component admins owners; 13 only
-- with component_admins_as_room_owners; other modules may patch rooms too).
local function owns_every_room(account)
	local probe = setmetatable({ jid = "roomkeeper-probe@" .. module.host; _affiliations = {}; _data = {} }, muc.room_mt);
	return probe:get_affiliation(account) == "owner";
end

module:hook("iq-set/host/" .. NS .. ":subscribe", function(event)
	if not allowed(event.stanza) then return refuse(event, "forbidden"); end
	subscribers[event.stanza.attr.from] = module.host;
	-- Prosody leaves Nagle's algorithm on: a pushed event followed by an IQ answer then
	-- waits for the service's delayed ACK, ~40 ms on every action. Off for this
	-- connection only.
	local conn = event.origin.conn;
	if conn and conn.setoption then conn:setoption("tcp-nodelay", true); end
	event.origin.send(st.reply(event.stanza):tag("subscribed", {
		xmlns = NS;
		owner = flag(owns_every_room(jid.bare(event.stanza.attr.from)));
		prosody = prosody.version;
		revision = REVISION;
	}));
	return true;
end);

-- The answer to every room query and action: the room as it is now.
local function room_reply(stanza, room)
	local config = config_element(room);
	local reply = st.reply(stanza):tag("room", {
		xmlns = NS;
		password = config.attr.password;
		members_only = config.attr.members_only;
		lobby = config.attr.lobby;
	});
	for _, occupant in room:each_occupant() do
		reply:add_child(occupant_element(room, occupant));
	end
	local lobby = lobby_of(room);
	if lobby then
		for _, occupant in lobby:each_occupant() do
			if knocking(lobby, occupant) then
				reply:add_child(knocker_element(lobby, occupant));
			end
		end
	end
	return reply;
end

-- Handles a query to a room: checks who asks, finds the room, and answers what
-- `act(room, query)` returns (the room's state), or its error.
local function room_handler(act)
	return function(event)
		local stanza = event.stanza;
		if not allowed(stanza) then return refuse(event, "forbidden"); end
		local room = muc.get_room_from_jid(jid.bare(stanza.attr.to));
		if not room then
			event.origin.send(st.error_reply(stanza, "cancel", "item-not-found"));
			return true;
		end
		local ok, kind, condition, text = act(room, stanza.tags[1], stanza);
		if ok then
			event.origin.send(room_reply(stanza, room));
		else
			event.origin.send(st.error_reply(stanza, kind or "cancel", condition or "internal-server-error", text));
		end
		return true;
	end;
end

-- The occupant with this nick, or the error for "this person has left".
local function occupant_by_nick(room, query)
	local occupant = room:get_occupant_by_nick(room.jid .. "/" .. (query.attr.nick or ""));
	if not occupant then return nil, "cancel", "recipient-unavailable"; end
	return occupant;
end

module:hook("iq-get/bare/" .. NS .. ":room", room_handler(function()
	return true;
end));

-- Grant (owner, as Jicofo does) or revoke (none; member in a members-only room, where
-- none would throw the person out) in one step, decided here so that the lobby state
-- cannot change in between.
module:hook("iq-set/bare/" .. NS .. ":moderator", room_handler(function(room, query)
	local occupant, kind, condition = occupant_by_nick(room, query);
	if not occupant then return nil, kind, condition; end
	local affiliation = "owner";
	if query.attr.grant ~= "1" then
		affiliation = room:get_members_only() and "member" or "none";
	end
	return room:set_affiliation(true, occupant.bare_jid, affiliation, "Changed by the room's owner");
end));

module:hook("iq-set/bare/" .. NS .. ":kick", room_handler(function(room, query)
	local occupant, kind, condition = occupant_by_nick(room, query);
	if not occupant then return nil, kind, condition; end
	-- `true` as actor: the service is not in the room, and Prosody allows role changes
	-- only to occupants otherwise. Role none is a kick: status 307 for everyone.
	return room:set_role(true, occupant.nick, "none", "Removed by the room's owner");
end));

-- What jitsi-meet's lobby plugin tells its own host when a moderator's client turns the
-- lobby on or off (newer jitsi-meet versions keep the state in room metadata from it);
-- its backend events do not, so it is told here, on every host that runs the plugin.
local function tell_lobby_hosts(room, event_name)
	for _, host in pairs(prosody.hosts) do
		if host.modules and host.modules.muc_lobby_rooms and host.events then
			host.events.fire_event(event_name, { room = room });
		end
	end
end

-- Turns the lobby on or off the way jitsi-meet's backend does (its plugin's global
-- events): on makes everyone inside a member first, so nobody inside is thrown out.
local function set_lobby(room, on)
	if on then
		if lobby_of(room) then return true; end
		prosody.events.fire_event("create-lobby-room", { room = room });
		if not lobby_of(room) then
			return nil, "cancel", "not-allowed", "jitsi-meet's lobby (muc_lobby_rooms, lobby_muc, main_muc) is not set up on this server";
		end
		tell_lobby_hosts(room, "jitsi-lobby-enabled");
	else
		if not room._data.lobbyroom and not room:get_members_only() then return true; end
		-- The plugin's event destroys the lobby room (its knockers are told) and tells the
		-- clients to read the configuration again; members-only is ours to end.
		room:set_members_only(false);
		prosody.events.fire_event("destroy-lobby-room", { room = room; newjid = room.jid });
		tell_lobby_hosts(room, "jitsi-lobby-disabled");
	end
	push(config_element(room, nil));
	return true;
end

module:hook("iq-set/bare/" .. NS .. ":lobby", room_handler(function(room, query)
	return set_lobby(room, query.attr.on == "1");
end));

-- The knocker with this nick in the room's lobby, or the error for "no longer knocking".
local function knocker_by_nick(room, query)
	local lobby = lobby_of(room);
	local occupant = lobby and lobby:get_occupant_by_nick(lobby.jid .. "/" .. (query.attr.nick or ""));
	if not occupant or not knocking(lobby, occupant) then return nil, "cancel", "recipient-unavailable"; end
	return occupant, lobby;
end

-- Admits as a moderator's "admit" in Jitsi does: a mediated invite from the room to the
-- knocker's connection, which the client answers by joining; membership first, so the
-- join passes the lobby whatever else handles the invite.
module:hook("iq-set/bare/" .. NS .. ":admit", room_handler(function(room, query, stanza)
	local occupant, _, condition = knocker_by_nick(room, query);
	if not occupant then return nil, "cancel", condition; end
	local ok, err_kind, err_condition = room:set_affiliation(true, occupant.bare_jid, "member", "Admitted by the room's owner");
	if not ok then return nil, err_kind, err_condition; end
	local invite = st.message({ from = room.jid; to = occupant.jid })
		:tag("x", { xmlns = MUC_USER_NS })
			:tag("invite", { from = stanza.attr.from })
				:tag("reason"):text("Admitted by the room's owner"):up()
			:up()
		:up();
	if not module:fire_event("muc-invite", { room = room; stanza = invite; origin = prosody.hosts[module.host]; incoming = stanza }) then
		room:route_stanza(invite);
	end
	return true;
end));

-- Sends a knocker away as Jitsi's "reject" does: out of the lobby room (status 307),
-- which the knocker's client shows as "denied".
module:hook("iq-set/bare/" .. NS .. ":deny", room_handler(function(room, query)
	local occupant, lobby, condition = knocker_by_nick(room, query);
	if not occupant then return nil, lobby, condition; end
	return lobby:set_role(true, occupant.nick, "none", "Your request to join was denied");
end));

-- The rooms whose lobby is on from their creation.
module:hook("iq-set/host/" .. NS .. ":lobbies", function(event)
	if not allowed(event.stanza) then return refuse(event, "forbidden"); end
	for room_jid in pairs(lobby_rooms) do lobby_rooms[room_jid] = nil; end
	for child in event.stanza.tags[1]:childtags() do
		if child.name == "room" and child.attr.jid then
			lobby_rooms[jid.prep(child.attr.jid) or child.attr.jid] = true;
		end
	end
	event.origin.send(st.reply(event.stanza));
	return true;
end);

-- A room named by the service gets its lobby as it is created, before its first
-- occupant's join is handled.
module:hook("muc-room-created", function(event)
	if lobby_rooms[event.room.jid] then set_lobby(event.room, true); end
end, 10);


-- Every presence Prosody sends about an occupant: joins, leaves, role and affiliation
-- changes and new display names all pass here, with the occupant already updated.
-- In a lobby room (this module on jitsi-meet's lobby component) the same presences are
-- knocks, told to the service subscribed at the main room's component.
module:hook("muc-broadcast-presence", function(event)
	local room, occupant = event.room, event.occupant;
	local nick = jid.resource(occupant.nick);
	local times = joined_at[room.jid];
	local main = room.main_room;
	if occupant.role == nil then
		if times then times[nick] = nil; end
		if told[room.jid] then told[room.jid][occupant.jid] = nil; end
		if main then
			push(st.stanza("knock-left", { xmlns = NS; room = main.jid; nick = nick }), jid.host(main.jid));
		else
			push(st.stanza("left", { xmlns = NS; room = room.jid; nick = nick }));
		end
		return;
	end
	if not times then times = {}; joined_at[room.jid] = times; end
	if not times[nick] then times[nick] = os.time(); end
	if main then
		if knocking(room, occupant) then
			push(knocker_element(room, occupant), jid.host(main.jid));
		end
	else
		push(occupant_element(room, occupant));
	end
end, -100);

-- After Prosody's own handlers (priority 0) have applied the new values.
local function config_changed(event)
	push(config_element(event.room, event.actor));
end
module:hook("muc-config-submitted/muc#roomconfig_roomsecret", config_changed, -100);
module:hook("muc-config-submitted/muc#roomconfig_membersonly", config_changed, -100);
module:hook("muc-room-created", config_changed, -100);
-- jitsi-meet's plugin attaches or destroys the lobby after the fields' own events, when
-- a moderator's client submits members-only: told once it has.
module:hook("muc-config-submitted", function(event)
	if (lobby_told[event.room.jid] or false) ~= (lobby_of(event.room) ~= nil) then
		config_changed(event);
	end
end, -100);

module:hook("muc-room-destroyed", function(event)
	joined_at[event.room.jid] = nil;
	lobby_told[event.room.jid] = nil;
	codes[event.room.jid] = nil;
	told[event.room.jid] = nil;
	push(st.stanza("destroyed", { xmlns = NS; room = event.room.jid }));
end, -100);

-- Join codes. "(RK-…)" at the end of a display name, as the link's
-- #userInfo.displayName sets it (the web client may have HTML-escaped the rest of the
-- name; the code itself has only letters and digits).
local CODE_PATTERN = "%s*%(RK%-(%w+)%)%s*$";

-- Removes the code from the presence in place (Prosody stores and broadcasts this very
-- stanza) and answers it.
local function take_code(stanza)
	local nick_element = stanza and stanza:get_child("nick", NICK_NS);
	local name = nick_element and nick_element:get_text();
	local code = name and name:match(CODE_PATTERN);
	if not code then return nil; end
	local stripped = name:gsub(CODE_PATTERN, "", 1);
	for i = #nick_element, 1, -1 do nick_element[i] = nil; end
	nick_element:text(stripped);
	return code;
end

-- Tells the service about a code, once per occupant connection and code, and at most
-- MAX_CODES_PER_OCCUPANT codes per occupant.
local function tell_code(room, nick, code, session)
	local room_told = told[room.jid];
	if not room_told then room_told = {}; told[room.jid] = room_told; end
	local mine = room_told[session];
	if not mine then mine = { count = 0 }; room_told[session] = mine; end
	if mine[code] then return; end
	if mine.count >= MAX_CODES_PER_OCCUPANT then
		if not mine.warned then
			mine.warned = true;
			module:log("warn", "%s sent more than %d join codes in %s; the rest are dropped", session, MAX_CODES_PER_OCCUPANT, room.jid);
		end
		return;
	end
	mine[code] = true;
	mine.count = mine.count + 1;
	local main = room.main_room;
	if main then
		-- Someone knocking with a code: the service lets an owner's code in.
		push(st.stanza("code", { xmlns = NS; room = main.jid; nick = nick; value = code; session = session; lobby = "1" }), jid.host(main.jid));
	else
		push(st.stanza("code", { xmlns = NS; room = room.jid; nick = nick; value = code; session = session }));
	end
end

-- Before every other handler, so nothing sees the code. The code waits for the join to
-- be accepted (a password, the lobby or a ban may still refuse it), and belongs to the
-- connection that sent it: whoever joins next under the same nick does not get it.
module:hook("muc-occupant-pre-join", function(event)
	local code = take_code(event.stanza);
	if not code then return; end
	local room_codes = codes[event.room.jid];
	if not room_codes then room_codes = {}; codes[event.room.jid] = room_codes; end
	room_codes[jid.resource(event.occupant.nick)] = { code = code; session = event.stanza.attr.from };
end, 1000);

module:hook("muc-occupant-joined", function(event)
	local room_codes = codes[event.room.jid];
	local nick = jid.resource(event.nick);
	local waiting = room_codes and room_codes[nick];
	if not waiting then return; end
	room_codes[nick] = nil;
	if next(room_codes) == nil then codes[event.room.jid] = nil; end
	local session = event.stanza and event.stanza.attr.from;
	if session ~= waiting.session then return; end
	tell_code(event.room, nick, waiting.code, session);
end, -100);

module:hook("muc-occupant-pre-change", function(event)
	local code = take_code(event.stanza);
	if code then
		tell_code(event.room, jid.resource(event.dest_occupant.nick), code, event.stanza.attr.from);
	end
end, 1000);
