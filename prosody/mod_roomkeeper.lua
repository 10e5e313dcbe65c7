-- Roomkeeper's companion module for Prosody (0.12 and later). Optional, recommended.
--
-- Load it on the MUC component of a Jitsi deployment. Only Roomkeeper's service account
-- may use it (roomkeeper@auth.<domain> unless roomkeeper_accounts says otherwise):
--
--   Component "conference.meet.example.org" "muc"
--       modules_enabled = { ...; "roomkeeper" }
--       -- roomkeeper_accounts = { "roomkeeper@auth.meet.example.org" }
--
-- It gives the service what an outsider cannot get through plain MUC administration
-- (docs/JITSI-SETUP.md):
--   * the occupants of a room with display names and join times, in one query;
--   * a real kick (role none, status 307, as the Jitsi web client expects);
--   * pushed events, so the service need not poll: every occupant change (join, leave,
--     role or affiliation, display name), room configuration changes (password,
--     members-only) and destroyed rooms, sent as messages to the service's connection.
--
-- Protocol (namespace below), all from an account in roomkeeper_accounts:
--   iq get  to ROOM  <room/>                -> <room password members_only><occupant .../>*</room>
--   iq set  to ROOM  <kick nick='…'/>       -> empty result (or the refusal)
--   iq set  to HOST  <subscribe/>           -> empty result; events follow as
--   <message from=HOST><occupant|left|config|destroyed room='ROOM-JID' …/></message>

local st = require "util.stanza";
local jid = require "util.jid";

local NS = "urn:roomkeeper:prosody:1";
local NICK_NS = "http://jabber.org/protocol/nick";

-- By default the account Roomkeeper's docs suggest, on the auth host next to this
-- component: conference.meet.example.org -> roomkeeper@auth.meet.example.org (for
-- docker-jitsi-meet's muc.meet.jitsi: roomkeeper@auth.meet.jitsi).
local default_account = "roomkeeper@auth." .. (module.host:match("^[^.]+%.(.+)$") or module.host);
local accounts = module:get_option_inherited_set("roomkeeper_accounts", { default_account });
local muc = module:depends("muc");

-- Full JIDs of the service connections that asked for events. A connection that has gone
-- away is dropped at the next event instead of filling anyone's offline storage.
local subscribers = {};
-- When each occupant joined, for "time in the meeting": joined_at[room JID][nick].
local joined_at = {};

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
		role = occupant.role or "none";
		affiliation = room:get_affiliation(occupant.bare_jid) or "none";
		joined = since and tostring(since) or nil;
		name = display_name(occupant);
	});
end

local function config_element(room)
	return st.stanza("config", {
		xmlns = NS;
		room = room.jid;
		password = flag((room:get_password() or "") ~= "");
		members_only = flag(room:get_members_only());
	});
end

local function push(payload)
	for subscriber in pairs(subscribers) do
		if prosody.full_sessions[subscriber] then
			module:send(st.message({ from = module.host; to = subscriber }):add_child(payload));
		else
			subscribers[subscriber] = nil;
		end
	end
end

local function refuse(event, condition, text)
	event.origin.send(st.error_reply(event.stanza, "auth", condition, text));
	return true;
end

module:hook("iq-set/host/" .. NS .. ":subscribe", function(event)
	if not allowed(event.stanza) then return refuse(event, "forbidden"); end
	subscribers[event.stanza.attr.from] = true;
	event.origin.send(st.reply(event.stanza));
	return true;
end);

module:hook("iq-get/bare/" .. NS .. ":room", function(event)
	local stanza = event.stanza;
	if not allowed(stanza) then return refuse(event, "forbidden"); end
	local room = muc.get_room_from_jid(jid.bare(stanza.attr.to));
	if not room then
		event.origin.send(st.error_reply(stanza, "cancel", "item-not-found"));
		return true;
	end
	local config = config_element(room);
	local reply = st.reply(stanza):tag("room", {
		xmlns = NS;
		password = config.attr.password;
		members_only = config.attr.members_only;
	});
	for _, occupant in room:each_occupant() do
		reply:add_child(occupant_element(room, occupant));
	end
	event.origin.send(reply);
	return true;
end);

module:hook("iq-set/bare/" .. NS .. ":kick", function(event)
	local stanza = event.stanza;
	if not allowed(stanza) then return refuse(event, "forbidden"); end
	local room = muc.get_room_from_jid(jid.bare(stanza.attr.to));
	if not room then
		event.origin.send(st.error_reply(stanza, "cancel", "item-not-found"));
		return true;
	end
	local nick = stanza.tags[1].attr.nick or "";
	-- `true` as actor: the service is not in the room, and Prosody allows role changes
	-- only to occupants otherwise. Role none is a kick: status 307 for everyone.
	local ok, kind, condition = room:set_role(true, room.jid .. "/" .. nick, "none", "Removed by the room's owner");
	if ok then
		event.origin.send(st.reply(stanza));
	else
		event.origin.send(st.error_reply(stanza, kind or "cancel", condition or "item-not-found"));
	end
	return true;
end);

-- Every presence Prosody sends about an occupant: joins, leaves, role and affiliation
-- changes and new display names all pass here, with the occupant already updated.
module:hook("muc-broadcast-presence", function(event)
	local room, occupant = event.room, event.occupant;
	local nick = jid.resource(occupant.nick);
	local times = joined_at[room.jid];
	if occupant.role == nil then
		if times then times[nick] = nil; end
		push(st.stanza("left", { xmlns = NS; room = room.jid; nick = nick }));
		return;
	end
	if not times then times = {}; joined_at[room.jid] = times; end
	if not times[nick] then times[nick] = os.time(); end
	push(occupant_element(room, occupant));
end, -100);

-- After Prosody's own handlers (priority 0) have applied the new values.
local function config_changed(event)
	push(config_element(event.room));
end
module:hook("muc-config-submitted/muc#roomconfig_roomsecret", config_changed, -100);
module:hook("muc-config-submitted/muc#roomconfig_membersonly", config_changed, -100);
module:hook("muc-room-created", config_changed, -100);

module:hook("muc-room-destroyed", function(event)
	joined_at[event.room.jid] = nil;
	push(st.stanza("destroyed", { xmlns = NS; room = event.room.jid }));
end, -100);
