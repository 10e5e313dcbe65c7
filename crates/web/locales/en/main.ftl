app-name = Roomkeeper
app-tagline = Take control of your Jitsi-Meet rooms when you need it.
nav-home = Home
nav-profile = Profile
nav-admin-users = Users
nav-logout = Log out
nav-skip = Skip to content
lang-switch = Language
lang-en = English
lang-de = Deutsch

login-title = Log in
login-intro = Roomkeeper lets lecturers register their Jitsi-Meet rooms. For a running meeting in your room you see who is moderator, can take moderator rights away, remove a password someone set, and download your recordings.
login-username = Username
login-password = Password
login-submit = Log in
login-failed = Wrong username or password.
login-throttled = Too many failed attempts. Please wait { $minutes } minutes and try again.
login-with = Log in with { $provider }
login-local = Or with a Roomkeeper password
oidc-unreachable = { $provider } cannot be reached right now. Try again in a minute, or log in another way.
oidc-state-invalid = This login was already used, took longer than 10 minutes, or was started in another browser or tab. Please start again.
oidc-provider-refused = { $provider } did not complete the login: { $reason }
oidc-token-refused = The answer from { $provider } could not be trusted (its signature, issuer, audience, validity or nonce did not check out), so you were not logged in. Please start again; if it happens again, tell your administrator.
oidc-no-username = { $provider } did not tell us a usable username for you, so you were not logged in. Please tell your administrator.
oidc-name-taken = The username { $username } belongs to another account here. Please ask an administrator.
oidc-disabled = Your Roomkeeper account is disabled. Please ask an administrator.

home-title = Your rooms
home-empty-title = You don't own any rooms yet.
home-empty-body = Jitsi-Meet makes the first person in a meeting its moderator. If a student arrives before you, they can lock your lecture with a password. Rooms you register here stay under your control: you can revoke moderator rights, remove passwords and download recordings from outside the meeting.
home-empty-next = Start by requesting the room you teach in. An administrator decides; you will see the answer here.

profile-title = Your profile
profile-account = Account
profile-username = Username
profile-display-name = Name
profile-role = Role
role-admin = Administrator
role-user = User
profile-must-change = Please choose a new password before you continue. The one you used was a one-time password.
profile-password = Change password
profile-password-current = Current password
profile-password-new = New password
profile-password-confirm = New password again
profile-password-help = At least 12 characters. A few unusual words make a good password.
profile-password-submit = Change password
profile-password-changed = Your password has been changed. Other sessions of your account have been logged out.
profile-password-wrong = The current password is not right.
profile-password-mismatch = The two new passwords are not the same.
profile-password-too-short = The new password needs at least 12 characters.
profile-password-too-long = The new password may have at most 1024 characters.
profile-language = Language
profile-language-help = Roomkeeper uses your browser's language until you choose one here.
profile-language-submit = Save language
profile-tokens = API tokens
profile-tokens-help = Scripts can use Roomkeeper's API with a personal token instead of your password. Anyone who has the token acts as you, so give each script its own and revoke it when the script is gone.
profile-tokens-empty = You have no API tokens.
profile-token-name = Name of the new token
profile-token-name-help = For example "course portal" or "backup script".
profile-token-create = Create token
profile-token-created = Your new token. Copy it now: it will not be shown again.
profile-token-created-at = Created
profile-token-last-used = Last used
profile-token-never = never
profile-token-revoke = Revoke
profile-token-name-invalid = Give the token a name of 1 to 100 characters.

admin-users-title = Users
admin-users-help = Accounts that can log in to Roomkeeper. Disabling an account logs it out everywhere at once.
admin-users-add = Add a local account
admin-users-username = Username
admin-users-display-name = Name (optional)
admin-users-make-admin = Administrator
admin-users-create = Add account
admin-users-created = Account { $username } added. Give them this one-time password; they must change it at first login:
admin-users-reset = New one-time password
admin-users-reset-done = New one-time password for { $username } (they must change it at login):
admin-users-col-user = User
admin-users-col-role = Role
admin-users-col-status = Status
admin-users-col-actions = Actions
admin-users-active = Active
admin-users-disabled = Disabled
admin-users-disable = Disable
admin-users-enable = Enable
admin-users-grant-admin = Make administrator
admin-users-revoke-admin = Remove administrator
admin-users-you = (you)
admin-users-last-admin = The last active administrator cannot lose that role or be disabled.
username-invalid = A username has 1 to 64 characters: letters a-z, digits and . _ - @
admin-users-exists = That username is already taken.

error-title = Something went wrong
error-not_found = This page does not exist, or it is not yours to see.
error-forbidden = You are not allowed to do this.
error-cross_site = This request came from another website and was refused. Go back, reload the page and try again.
error-internal = Something went wrong on our side. Please try again; if it keeps happening, tell your administrator.
error-unavailable = A service Roomkeeper depends on is not reachable right now. Please try again in a minute.
error-bad_request = The request could not be understood.
error-back-home = Back to the start page

request-button = Request a room
notice-approved = Your request for { $room } was approved. The room is yours.
notice-rejected = Your request for { $room } was rejected.
notice-dismiss = Dismiss
home-rooms = Rooms you manage
home-no-rooms-yet = No room is yours yet. Your requests are below.
role-owner = You own this room
role-co-owner-of = Co-owner (owner: { $owner })
room-join = Join meeting
home-requests = Your latest requests
home-all-requests = All your requests
status-pending = Waiting for approval
status-approved = Approved
status-rejected = Rejected
status-withdrawn = Withdrawn
pager-label = Pages
pager-previous = Previous page
pager-next = Next page
pager-position = Page { $page } of { $pages }

request-title = Request a room
request-intro = Register a Jitsi-Meet room you use for teaching. Once it is yours, you can take control of a running meeting in it: see who is moderator, take moderator rights away, remove a password someone set.
request-room = Room name or meeting link
request-room-help = Type the name as it appears at the end of the meeting link, or paste the whole link. Capitals and spaces do not matter: Jitsi ignores them too.
request-room-example = Example: { $url }
request-reason = Reason
request-reason-help = The administrators may not know you. Say who you are and what the room is for, e.g. "Lecture Logic I, winter term, Prof. Example". If you run several lectures with a common prefix (example-logic, example-seminar), say so: they can approve all future rooms with that prefix at once.
request-co-owners = Co-owners (optional)
co-owners-help = Usernames of colleagues who get the same rights in this room (moderator control, recordings), separated by commas. People who have never logged in yet can be named too.
request-submit = Send request
requests-title = Your requests
requests-empty = You have not asked for a room yet.
requests-auto = approved at once by your pattern { $pattern }
requests-open-room = Open the room
requests-withdraw = Withdraw

room-facts = About this room
room-jitsi-name = Name in Jitsi
room-link = Meeting link
room-owner = Owner
room-co-owners = Co-owners
room-none = none
room-created = Registered
room-co-owners-edit = Co-owners
room-co-owners-explain = Co-owners have the same rights in this room as the owner: they can take control of a running meeting and watch the recordings. Only the owner and administrators change this list. A removed co-owner loses access with their next click.
room-co-owners-save = Save co-owners
room-transfer = Give the room to someone else
room-transfer-to = New owner (username)
room-transfer-help = The new owner gets every right; you lose yours unless they add you as co-owner.
room-transfer-submit = Transfer room
room-release = Release the room
room-release-help = Roomkeeper forgets that this room is yours. The room keeps working in Jitsi as before, but nobody can take control of it here until someone registers it again. Its history is kept.
room-release-confirm = Yes, release this room
room-release-submit = Release room
room-history = History
history-empty = Nothing has happened yet.
history-system = Roomkeeper
audit-request = Requested
audit-auto_approve = Approved by pattern
audit-withdraw = Request withdrawn
audit-approve = Approved
audit-reject = Rejected
audit-pattern_add = Pattern added
audit-pattern_remove = Pattern removed
audit-co_owners = Co-owners changed
audit-transfer = Transferred
audit-release = Released

queue-title = Room requests
queue-help = Oldest first. Check the reason: the requester may be a stranger to you. Approving with a pattern also approves that user's future requests matching it.
queue-filter = Show requests
queue-empty = No requests here.
queue-bulk-help = Tick requests below, then approve or reject them together.
queue-message = Message to the requester
queue-approve-selected = Approve ticked
queue-reject-selected = Reject ticked
queue-select = Select
queue-requester = Requested by
queue-asked = Asked on
queue-their-rooms = Their rooms
queue-their-patterns = Their patterns
queue-message-optional = Message to the requester (optional)
queue-pattern = Also approve future requests matching (optional)
queue-pattern-help = A pattern such as exampleperson-* ; * stands for any text, ? for one character. Leave empty to approve only this room.
queue-approve = Approve
queue-reject-message = Reason for rejecting (the requester sees it)
queue-reject = Reject
queue-conflict-registered = This room is already registered to { $owner }.
queue-conflict-pattern = The pattern { $pattern } of { $user } matches this room too.
queue-reject-needs-message = Tell the requester why the request is rejected.

rooms-title = All rooms
rooms-search = Search by room or owner
rooms-search-submit = Search
rooms-count = Rooms found: { $count }
rooms-empty = No room matches.
rooms-col-room = Room
rooms-col-activity = Last activity

patterns-title = Patterns
patterns-help = A user's requests for rooms whose name matches one of their patterns are approved at once. A pattern never gives anyone a room that is already registered.
patterns-add = Give a user a pattern
patterns-pattern = Pattern
patterns-add-submit = Add pattern
patterns-empty = Nobody has a pattern yet.
patterns-list = Patterns in use
patterns-matches = Matches { $rooms } registered rooms and { $requests } waiting requests
patterns-overlap = Overlaps with { $pattern } of { $user }
patterns-remove = Remove

history-title = History
history-help = Every change to rooms, requests and patterns: who, when, from where. Nothing here can be edited or deleted.

disable-title = Disable account
disable-heading = Disable { $username }
disable-owns = This person owns { $count } rooms. Nobody could manage them after the account is disabled, so decide what happens to them first:
disable-choose = The rooms
disable-transfer = Give them to another user
disable-release = Release them
disable-submit = Disable account
disable-transfer-needs-user = Name the user who should get the rooms (not the person being disabled).

nav-admin-requests = Requests
nav-pending = { $count } waiting
nav-admin-rooms = Rooms
nav-admin-patterns = Patterns
nav-admin-audit = History
nav-admin-jitsi = Jitsi

flash-submitted = Your request has been sent. You will see the decision here and on your start page.
flash-withdrawn = The request has been withdrawn.
flash-co-owners = The co-owners have been saved.
flash-transferred = The room has a new owner.
flash-released = The room has been released.
flash-approved = The request has been approved.
flash-rejected = The request has been rejected.
flash-decided = The ticked requests have been decided.

error-invalid_room = Jitsi cannot address this room.
error-invalid_reason = Please give a reason.
error-invalid_username = A username is not valid.
error-invalid_pattern = The pattern is not valid.
error-invalid_message = The message is too long.
error-room_taken = This room is already registered.
error-already_decided = This request has already been decided or withdrawn.

mail-new-request-subject = Room request: { $room } by { $requester }
mail-new-request-body =
    { $requester } asks for the room { $room }.

    Reason:
    { $reason }

    Approve or reject it here: { $link }
mail-approved-subject = Your room { $room } is approved
mail-approved-body =
    Your request for the room { $room } was approved. The room is yours now.

    { $message }

    Open Roomkeeper: { $link }
mail-rejected-subject = Your request for { $room } was rejected
mail-rejected-body =
    Your request for the room { $room } was rejected.

    { $message }

    Open Roomkeeper: { $link }
profile-email = Email address
profile-email-help = Roomkeeper writes here when an administrator decides on your requests (administrators also hear about new requests). Leave empty for no email.
profile-email-submit = Save email address
profile-email-invalid = This is not an email address.
profile-email-saved = Your email address has been saved.
admin-users-search = Search by username or name
detail-reason = Reason
detail-message = Message
detail-pattern = Pattern
detail-co_owners = Co-owners
detail-before = Before
detail-after = After
detail-from = From
detail-to = To
detail-owner = Owner
audit-grant_moderator = Made moderator
audit-revoke_moderator = Moderator rights taken away
audit-remove_password = Password removed
audit-kick = Removed from the meeting
audit-end_meeting = Meeting ended
detail-participant = Participant
detail-participant_name = Name
meeting-title = Meeting now
meeting-none = No meeting is running in this room right now.
meeting-open = The room has no password: anyone with the link can join.
meeting-locked = Someone has locked this meeting with a password.
meeting-locked-help = Only a moderator can set a password in Jitsi. Removing it opens the room again for everyone with the link; take moderator rights away from whoever set it first, or they can lock it again.
meeting-remove-password = Remove password
meeting-empty = Nobody is in the meeting.
meeting-moderator-help = Moderators can mute and remove people, lock the room and start recordings. Jitsi makes the first person in the meeting moderator and does not choose a new one when you take the rights away, so give them to the right person.
meeting-moderator = Moderator
meeting-participant-id = Participant id
meeting-last-moderator = The only moderator; instead make
meeting-nobody = nobody
meeting-revoke = Revoke moderator
meeting-grant = Make moderator
meeting-kick = Remove from meeting
meeting-end-confirm = Yes, end the meeting for everyone
meeting-end = End meeting
meeting-refresh = Show the current state
flash-meeting = Done. The meeting now looks as shown.
flash-meeting-ended = The meeting has been ended.
meeting-live-pushed = This section follows the meeting as it changes.
meeting-live-polled = This section checks the meeting every second. The Jitsi server does not have Roomkeeper's add-on, so people are shown by participant id instead of their name, and “Remove from meeting” only bans them for a moment: they can join again.
meeting-joined = since { $time }

jitsi-title = Jitsi servers
jitsi-help = The Jitsi deployments Roomkeeper controls, as configured in [[jitsi.shards]]. Roomkeeper keeps one connection to each and reconnects by itself.
jitsi-none = No Jitsi server is configured, so meetings cannot be shown or controlled. docs/JITSI-SETUP.md explains how to add one.
jitsi-servers = Connections
jitsi-online = Connected
jitsi-offline = Not connected
jitsi-offline-help = Roomkeeper cannot reach this server right now and keeps trying. Meetings on it cannot be controlled until it is back.
jitsi-module = Add-on loaded
jitsi-no-module = Add-on missing
jitsi-no-module-help = Without Roomkeeper's Prosody module (prosody/mod_roomkeeper.lua) people are shown by participant id, rooms are checked every second instead of changes being pushed, and removing someone is a short ban.
jitsi-followed = Rooms being followed right now: { $count }

## Recordings
recordings-title = Recordings
recordings-none = No recordings of this room yet. When someone records a meeting here, the recording appears within seconds of the recording's end.
recording-title = Recording
recording-play = Play
recording-download = Download
recording-back = Back to the room
recording-participants = Participants
recording-deleted-at = Deleted automatically on { $date }.
recording-share = Share link
recording-share-help = A link lets anyone who has it watch and download this recording, without logging in, until it expires or you revoke it. Every use is recorded in the room's history.
recording-share-new = New link (copy it now; it is not shown again)
recording-share-days = Valid for (days)
recording-share-create = Make a link
recording-share-row = Made by { $who }, valid until { $until }
recording-share-active = active
recording-share-inactive = expired or revoked
recording-share-revoke = Revoke
recording-delete = Delete recording
recording-delete-confirm = Yes, delete this recording for everyone. This cannot be undone.
retention-title = Keeping recordings
retention-days = Days to keep this room's recordings
retention-help = Leave empty for the default ({ $days } days).
retention-save = Save
admin-recordings-title = Recordings without a room
admin-recordings-help = Recordings of meetings in rooms nobody has registered. They go to their room by themselves when it is registered; you can also give one to a room, or delete it.
admin-recordings-unassigned = Unassigned recordings
admin-recordings-none = None.
admin-recordings-assign-to = Room
admin-recordings-assign = Assign
admin-recordings-problems = Sessions that could not be taken in
admin-recordings-no-problems = None: every finished Jibri session was taken in.
mail-recording-subject = A recording of { $room } is ready
mail-recording-body = A new recording of your room { $room } is ready. Watch or download it here: { $link }
notice-recording-ready = A new recording of { $room } is ready.
