//! What a message sounds like: a crisis, a request for advice, or neither.
//!
//! Plain rules over normalised text, built on the corpora in `tests/data/` and measured there
//! (see `tests/safety_corpus.rs` and the README for the figures). Rules rather than a model:
//! every decision can be read, explained and corrected, and nothing leaves the machine.
//!
//! A miss in one direction costs far more than in the other: a crisis taken for an ordinary
//! reply goes unanswered, while an ordinary reply taken for a crisis gets a caring message it
//! did not need. The crisis rules lean towards answering.

use std::sync::LazyLock;

use regex::Regex;

/// What the bot must answer, beyond keeping the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// Thoughts of suicide or self-harm, harm to others, or violence or abuse at home.
    Crisis,
    /// A request for advice or a decision, which the bot never gives.
    Advice,
    None,
}

pub fn assess(text: &str) -> Concern {
    let normalised = NOT_ABOUT_THE_WRITER
        .replace_all(&normalise(text), " . ")
        .into_owned();
    let resolved = (RESOLVED_PAST.is_match(&normalised) && SAFE_NOW.is_match(&normalised))
        || SAID_IN_JEST.is_match(&normalised);
    if !resolved && CRISIS.iter().any(|rule| rule.matches(&normalised)) {
        Concern::Crisis
    } else if asks_for_advice(&normalised) {
        Concern::Advice
    } else {
        Concern::None
    }
}

/// Lower case, apostrophes dropped ("don't" and "dont" read alike), other punctuation but
/// sentence ends turned to spaces, spaces collapsed.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            '\'' | '’' | '‘' | '`' | '´' => continue,
            '?' | '.' | '!' | '\n' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        };
        match mapped {
            Some('\n') => {
                out.push('.');
                last_space = false;
            }
            Some(c) => {
                if matches!(c, '?' | '.' | '!') && out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
                last_space = false;
                if matches!(c, '?' | '.' | '!') {
                    out.push(' ');
                    last_space = true;
                }
            }
            None if !last_space => {
                out.push(' ');
                last_space = true;
            }
            None => {}
        }
    }
    out.trim().to_owned()
}

/// Words that, just before a match, turn it around: "he never hits me", "I'm not suicidal".
const NEGATORS: [&str; 14] = [
    "never", "not", "no", "dont", "doesnt", "didnt", "isnt", "wasnt", "hasnt", "havent", "wont",
    "wouldnt", "nothing", "used",
];

fn negated_before(text: &str, start: usize) -> bool {
    text[..start]
        .rsplit(['.', '?', '!'])
        .next()
        .unwrap_or("")
        .split_whitespace()
        .rev()
        .take(3)
        .any(|word| NEGATORS.contains(&word))
}

/// "He'll kill me if I leave" is a threat; "she'd kill me if I skipped book club" is not.
fn threat_on_leaving(after: &str) -> bool {
    const CONDITIONS: [&str; 22] = [
        "leave", "left", "leaving", "leaves", "go", "went", "tell", "told", "tells", "telling",
        "report", "reports", "call", "calls", "try", "divorce", "take", "contact", "speak", "talk",
        "ever", "police",
    ];
    let mut words = after.split_whitespace().skip(1);
    let someone = words.next().is_some_and(|word| {
        ["i", "we", "you", "she", "he", "they", "anyone", "the", "my"].contains(&word)
    });
    someone && words.take(4).any(|word| CONDITIONS.contains(&word))
}

/// "Overdosed on Saturday" or "on my pills" is literal; "overdosed on Netflix" is not.
fn literal_after_on(after: &str) -> bool {
    const LITERAL: [&str; 20] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "purpose",
        "my",
        "his",
        "her",
        "the",
        "pills",
        "tablets",
        "insulin",
        "paracetamol",
        "antidepressants",
        "meds",
        "sleeping",
        "drugs",
    ];
    after
        .split_whitespace()
        .nth(1)
        .is_some_and(|word| LITERAL.contains(&word))
}

/// Verbs that report someone else's words.
const REPORTING: [&str; 15] = [
    "asked", "asks", "asking", "told", "tells", "said", "says", "saying", "keeps", "googled",
    "wondered", "wonder", "myself", "article", "looked",
];

fn reported_before(text: &str, start: usize) -> bool {
    text[..start]
        .split_whitespace()
        .rev()
        .take(4)
        .any(|word| REPORTING.contains(&word))
}

#[derive(Clone, Copy)]
enum Guard {
    /// The rule holds wherever it matches.
    Always,
    /// Not when negated just before ("never", "not", …).
    Unnegated,
    /// Not when negated, and not when a threat is a figure of speech: "would kill me if she
    /// knew", "will kill me for saying this".
    LiteralThreat,
    /// As [`Guard::LiteralThreat`], and not when someone else's words are reported: "someone
    /// said I looked like I wanted to kill someone".
    ReportedThreat,
    /// Not when negated, and not when someone else's question is being reported: "I asked
    /// myself what I should do", "my friend told me what to do".
    Reported,
    /// Not when negated, and not when the harm is to feelings: "I hurt her feelings".
    Bodily,
    /// Not when negated, and not when the verb is a figure of speech: "pushed me to apply",
    /// "pushes my buttons", "grabbed my hand", "choked me up".
    Violent,
    /// Not when negated, and not when used of something harmless: "overdosed on Netflix".
    Figurative,
    /// Not when negated, and not a place or a sport: "the gun range", "a gun club".
    Weapon,
}

impl Guard {
    fn negatable(self) -> bool {
        !matches!(self, Guard::Always)
    }

    fn checks_reporting(self) -> bool {
        matches!(self, Guard::Reported | Guard::ReportedThreat)
    }

    /// Words that, right after a match, show it was a figure of speech.
    fn figurative_next(self) -> &'static [&'static str] {
        match self {
            Guard::LiteralThreat | Guard::ReportedThreat => {
                &["if", "for", "lol", "haha", "laughing"]
            }
            Guard::Violent => &[
                "buttons", "away", "hand", "feelings", "towards", "along", "under", "off",
            ],
            Guard::Bodily => &["feelings", "pride", "ego", "chances"],
            Guard::Figurative => &["on"],
            Guard::Weapon => &[
                "range", "club", "shop", "show", "safety", "licence", "license",
            ],
            Guard::Always | Guard::Unnegated | Guard::Reported => &[],
        }
    }
}

struct Rule {
    pattern: Regex,
    guard: Guard,
}

impl Rule {
    fn matches(&self, text: &str) -> bool {
        let guard = self.guard;
        self.pattern.captures_iter(text).any(|found| {
            let whole = found.get(0).expect("group 0 always exists");
            let between = found.name("between").map_or("", |m| m.as_str());
            let negated = negated_before(text, whole.start())
                || between
                    .split_whitespace()
                    .any(|word| NEGATORS.contains(&word));
            let next = text[whole.end()..].split_whitespace().next().unwrap_or("");
            let turned_around = guard.negatable() && negated;
            let reported = guard.checks_reporting() && reported_before(text, whole.start());
            let next = next.trim_end_matches(['.', '?', '!']);
            let figurative = guard.figurative_next().contains(&next)
                && !(next == "if" && threat_on_leaving(&text[whole.end()..]))
                && !(next == "on" && literal_after_on(&text[whole.end()..]));
            !turned_around && !reported && !figurative
        })
    }
}

fn rules(patterns: &[(&str, Guard)]) -> Vec<Rule> {
    patterns
        .iter()
        .map(|(pattern, guard)| Rule {
            pattern: Regex::new(pattern)
                .unwrap_or_else(|error| panic!("safety pattern {pattern:?}: {error}")),
            guard: *guard,
        })
        .collect()
}

/// A hard time told as over: "years ago I thought about ending my life; I'm nowhere near
/// that now". Both a time in the past and an explicit word of safety now are needed.
static RESOLVED_PAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:years ago|used to|in the past|as a (?:teenager|teen|student)|back then|last year|in my (?:teens|twenties|thirties)|when i was (?:younger|a teenager|at uni))\b")
        .expect("valid")
});

static SAFE_NOW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:nowhere near (?:that|there)|not there (?:now|anymore|any more)|(?:im )?past that(?: now)?|(?:i feel|im|i am) (?:safe|okay|ok|fine) now|i feel safe|im safe|i am safe|clean for|doing (?:okay|ok|better|well) now|(?:been|ive been) (?:fine|stable|okay|ok|well) (?:since|for)|dont think that any ?more|not a dangerous one|honestly said no|i said no)\b")
        .expect("valid")
});

/// Passages that name a crisis without being one of the writer's: someone else's past attempt,
/// or a screening question answered no. They are blanked before the rules run, so the rest of
/// the message is still read.
static NOT_ABOUT_THE_WRITER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:friends?|sisters?|brothers?|cousins?|colleagues?|neighbours?|uncles?|aunts?)(?: \w+){0,2} (?:attempted suicide|died by suicide|committed suicide|killed (?:him|her)self|took (?:his|her|their) own life)\b|\basked (?:me )?(?:if|whether)\b.{0,80}\bsaid no\b")
        .expect("valid")
});

/// A figure of speech said as one: "I could strangle him, not literally", "I wanna die, so
/// embarrassing", "I don't want to wake up tomorrow and have the same argument".
static SAID_IN_JEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bnot literally\b|\b(?:wanna|want to|could|gonna|going to) die\b.{0,80}\b(?:embarrass\w*|cringe|mortif\w*)\b|\bdont want to wake up\b.{0,20}\band (?:have|do|see|face|deal|hear|find)\b")
        .expect("valid")
});

/// Someone who hurts the user, as a subject: "he", "my wife", "her boyfriend".
const ABUSER: &str = r"(?:he|she|hes|shes|hed|shed|hell|shell|husband|wife|partner|boyfriend|girlfriend|bf|gf|fella|ex)";

/// Acts of violence done to someone, as verbs.
const VIOLENT_ACT: &str = r"(?:hits?|hitting|punch(?:es|ed|ing)?|kick(?:s|ed|ing)?|slap(?:s|ped|ping)?|chok(?:es|ed|ing)|strangl(?:es|ed|ing)|shov(?:es|ed|ing)|beats?|beating|beat up|headbutt(?:s|ed)?|bites|bit|smother(?:s|ed)|pins?|pinned|dragg?(?:s|ed)|spat|spits|twist(?:s|ed)|tied|ties|locks?|locked|rap(?:es|ed)|forc(?:es|ed)|hurts|grab(?:s|bed)|pull(?:s|ed)|slamm?(?:s|ed)|smash(?:es|ed)|broke|broken|sits on|claws|klap\w*)";

static CRISIS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let violence_to_me = format!(
        r"\b{ABUSER}\b(?P<between>(?:\s+\w+){{0,3}}?)\s+{VIOLENT_ACT}\s+(?:\w+\s+){{0,2}}?(?:me|my)\b"
    );
    rules(&[
        // Suicide and self-harm, said outright or in the usual coded forms.
        (
            r"\bsuicid|\bsuicidle|\bsewer ?slide|\bunaliv|\bkms\b|\bkys\b|\bself ?harm",
            Guard::Unnegated,
        ),
        (
            r"\b(?:kill|kil|killing|killin|killed|off|offing|hang|hanging|hanged|hurt|hurts|hurting|harm|harming|cut|cuts|cutting|burn|burned|burnt|burning|starve|starved|starving|drown|drowning|hit|hitting|end|ending) (?:my ?self|myself)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:take|taking|took|end|ending|ended) (?:my|my own) life\b|\blife of my own\b",
            Guard::Unnegated,
        ),
        (
            r"\bend(?:ing)? (?:it|things|everything) (?:all|for good)\b|\bend it all\b|\bwhen i end it\b",
            Guard::Unnegated,
        ),
        (
            r"\bend it\b.{0,12}\bnot (?:the|our) (?:relationship|marriage)",
            Guard::Always,
        ),
        (
            r"\b(?:want|wanna|wnat|wish|ready|going|gonna|planning|want) (?:to )?(?:die|be dead)\b",
            Guard::Unnegated,
        ),
        (
            r"\brather (?:be dead|not exist|not be alive)\b|\bwant (?:him|her|them|myself) (?:to be )?dead|\bwant (?:to be|myself) dead",
            Guard::Unnegated,
        ),
        (
            r"\b(?:dont|do not|no longer|never) (?:really )?(?:want|wanna|wish) (?:to )?(?:be here|be alive|live|exist|wake up|keep going|go on|carry on|be around)\b",
            Guard::Always,
        ),
        (
            r"\bbetter off (?:dead|without me)\b|\b(?:lighter|easier|better) (?:off )?without me\b|\beasier for everyone if i\b",
            Guard::Unnegated,
        ),
        (
            r"\bno (?:point|reason) (?:in |for me to |to )?(?:living|live|being alive|go(?:ing)? on|carry(?:ing)? on|keep(?:ing)? going)\b|\bsee the point (?:in|of) (?:being alive|living|going on|life)\b|\bpoint of going on\b|\bdont see the point (?:in|of) (?:carrying|going|living)",
            Guard::Always,
        ),
        (
            r"\bnothing (?:left )?to live for\b|\b(?:not|isnt|arent) worth living\b",
            Guard::Always,
        ),
        (
            r"\btired of (?:being alive|living|life|fighting to stay alive)\b|\bdone with life\b|\bwant out of life\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:stop|stopped) existing\b|\bnot (?:to )?exist(?:ing)?\b|\bwant to stop existing",
            Guard::Always,
        ),
        (
            r"\bnever wake up\b|\bnot wake up\b|\bsleep forever\b|\bwont wake up\b|\bdie in my sleep\b|\bgo to sleep forever",
            Guard::Always,
        ),
        (
            r"\b(?:not|wont) (?:be )?(?:alive|around|here|living) (?:anymore|much longer|for christmas|either)\b|\bnot going to be around\b|\bwont be here\b|\bwont be needing\b",
            Guard::Always,
        ),
        (
            r"\bdisappear(?:ed)? (?:for good|forever)\b|\bgone for good\b|\bmake it official and go\b",
            Guard::Always,
        ),
        (
            r"\b(?:last|final) message\b|\bsaying goodbye in my head\b|\bit was goodbye\b|\bpick a day\b|\bplan and a date\b",
            Guard::Always,
        ),
        (
            r"\bcant (?:picture|see|imagine) a future where im\b|\bonly way out\b|\bpain to stop permanently\b|\bfinish the job\b|\bmy own funeral\b",
            Guard::Always,
        ),
        (
            r"\b(?:think|thinking|thinkin|thought) (?:about|bout|abt|of) (?:dying|death|suicide|ending|killing|killin|jumping|hanging|crashing|slitting)\b|\bthinking about it\b.{0,20}\bcliffs?\b|\bcliffs?\b.{0,40}\bthinking about it\b",
            Guard::Unnegated,
        ),
        // Means and plans.
        (
            r"\bstockpil|\bcounted (?:out )?(?:the |my )?(?:tablets|pills)\b|\bpills? saved\b|\bsaved up the pills\b",
            Guard::Unnegated,
        ),
        (
            r"\bswallow(?:ed|ing)? (?:every|all|half|the whole)\b|\b(?:took|take|taking) (?:a bunch|all|a load|every) (?:of )?(?:my |the )?\w*\s?(?:pills|tablets|antidepressants|paracetamol)\b",
            Guard::Unnegated,
        ),
        (
            r"\bhow many of my \w* ?pills\b|\b(?:pills|tablets) in my (?:handbag|bag|pocket) in case\b|\bhalf the bottle\b",
            Guard::Always,
        ),
        (
            r"\b(?:a|the) rope\b|\bnoose\b|\bhang myself\b|\bengine running\b|\bcrash(?:ing)? (?:the|my) car on purpose\b|\bcrashing the car\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:jump|jumping|step|stepping|steer|steering|drive|driving|walk|walking) (?:off|into|in front of|onto)\b.{0,30}\b(?:bridge|tree|train|sea|roof|motorway|cliff|building|edge|platform|lorry|traffic|car park)\b",
            Guard::Unnegated,
        ),
        (
            r"\bedge of the (?:train )?platform\b|\btallest building\b|\btop floor of the car park\b",
            Guard::Always,
        ),
        (
            r"\b(?:my|his|her|a|the|new pack of) (?:razor )?blades?\b.{0,60}\b(?:lied|hide|hid|not for shaving|makeup bag|for when|myself|my (?:arms?|legs?|wrists?|thighs?|skin|stomach)|on me|drawer|using|bath|next to me)\b|\brazor blades\b|\bmy razors\b|\bblades\.|\b(?:a|my|the) razor\b.{0,30}\b(?:next to me|bath|wrists?|arms?)\b|\bscars?\b|\burges? to (?:cut|hurt|die)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:started|start|am|been|keep) cutting\b|\bcutting again\b|\bcut again\b|\b(?:burning|scratch(?:ing)? at) my arms\b|\b(?:till|until) (?:they|it|i|my knuckles) (?:bleed|bled|bleeds|split)\b",
            Guard::Unnegated,
        ),
        (
            r"\bsuicide note\b|\bwritten a note\b|\bwrote letters to the kids\b|\bletters are written\b|\bmy will is sorted\b|\bgiving my things away\b|\blife insurance\b",
            Guard::Always,
        ),
        (
            r"\bdo something stupid to myself\b|\bdont trust myself (?:around|with|alone)\b|\bhurt myself if\b|\bagainst my (?:arm|wrist)\b",
            Guard::Always,
        ),
        (
            r"\b(?:a|his|her|the|my|their|dads|fathers) (?:old |service |hunting )*(?:gun|pistol|shotgun|firearm|rifle)\b",
            Guard::Weapon,
        ),
        // A knife is in every kitchen: only a knife held at, near or against someone counts.
        (
            r"\b(?:knife|knives|blade)\b.{0,30}\b(?:my (?:throat|neck|arms?|wrists?|legs?|thighs?|skin|stomach|glovebox|bag|pocket)|at (?:him|her|me)|to (?:my|his|her) (?:throat|neck)|against)\b|\b(?:pulled|held|holding|waved|waving|came at me with|went for \w+ with|threatened \w+ with) (?:a |the |his |her )?(?:\w+ )?knife\b|\bknife (?:ready|in (?:him|her|them))\b|\bknife in the glovebox\b|\bknife under (?:his|her|the|my) (?:pillow|bed|mattress)\b|\b(?:do|did|said|says)\b.{0,25}\bwith (?:a|the) knife\b|\btook a (?:knife|blade|razor) to my\b|\blooking at the (?:knives|knife)\b|\bhunting knife\b|\baround the (?:kitchen )?knives\b|\bknife in my\b",
            Guard::Unnegated,
        ),
        // Harm to others.
        (
            r"\b(?:i|ive|im|id|ill|to)\b(?P<between>(?:\s+\w+){0,3}?)\s+(?:kill|stab|strangle|shoot|murder|poison|smother|beat)\w* (?:him|her|them|my (?:husband|wife|partner|boyfriend|girlfriend|ex|brother|sister|brother in law|mother|father)|the (?:bloke|guy|kids|baby))\b",
            Guard::LiteralThreat,
        ),
        (
            r"\b(?:want|going|gonna|will|ill|could|might|wanna|afraid ill|scared ill|to) (?:to )?hurt (?:him|her|them|the kids|my|the baby)\b|\bhurt him the way\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:i|ive|im|id)\b(?P<between>(?:\s+\w+){0,4}?)\s+(?:hit|hitting|slapped|slap|smacked|smack|whacked|punched|shoved|pushed|kicked|shook|grabbed|strangle|choked|hurt|hurting|hurts|beat|beating) (?:my wife|my husband|her|him|the baby|the kids|my partner|my (?:son|daughter)|our (?:son|daughter|kids|cat|dog))\b",
            Guard::Bodily,
        ),
        (
            r"\b(?:he|she|hes|shes|husband|wife|partner)\b(?P<between>(?:\s+\w+){0,3}?)\s+(?:hitting|hits|hit|slapped|slaps|hurting|hurts|hurt|beats|beat) (?:the kids|our (?:son|daughter|kids)|the baby|our daughter|our son)\b",
            Guard::Unnegated,
        ),
        (
            r"\bpunch (?:his|her) face\b|\bstops? breathing\b|\bkill\b.{0,60}\b(?:not (?:speaking |being )?figurative\w*|not joking|i mean it)",
            Guard::Always,
        ),
        (
            r"\bby the throat\b|\bto death\b.{0,3}$|\bbeat \w+ to death\b|\bmake (?:her|him) suffer\b|\b(?:want|wish) (?:him|her|them) dead\b|\bput (?:him|her) in hospital\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:something|stuff|poison|pills) in (?:his|her|their) (?:food|tea|coffee|drink|dinner|meal)\b|\b(?:his|her) car on fire\b|\bburn the house down\b|\bdeath look like an accident\b|\bnone of us live\b|\bhave me killed\b",
            Guard::Always,
        ),
        // Violence and abuse at home.
        (&violence_to_me, Guard::Violent),
        (
            r"\b(?:he|she|hell|shell|hed|shed|will|would|might|going to|gonna) (?:\w+ )?(?:kill|murder|finish|hurt|shoot|stab|strangle) me\b",
            Guard::LiteralThreat,
        ),
        (
            r"\bthreat\w* (?:to kill|to shoot|to stab|to hurt|me|us|to burn)\b|\bthreatens me\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:scared|afraid|terrified|frightened) (?:of|for) (?:my (?:life|safety|partner|wife|husband)|him|her)\b|\b(?:scared|afraid|terrified) to go home\b|\bscared of what (?:he|she)\b",
            Guard::Unnegated,
        ),
        (
            r"\brap(?:e|ed|es|ing)\b|\bforces? (?:himself|herself) on me\b|\bmakes? me (?:have sex|sleep with|do things)\b|\b(?:holds|held|pins) me down\b|\bowe (?:him|her) sex\b|\bsex when im asleep\b|\bdoes it anyway\b",
            Guard::Unnegated,
        ),
        (
            r"\bwouldnt (?:stop|let go)\b|\bshut me up for good\b|\bnobody would ever find my body\b|\braises his (?:fist|hand)\b|\bim next\b|\bcourt order\b|\bbruises\b|\bnearly passed out\b|\bfinish me\b|\bget me\b.{0,5}$",
            Guard::Unnegated,
        ),
        (
            r"\b(?:locked|locks) me (?:in|out)\b|\b(?:threw|throws?)\b.{0,20}\bat (?:me|my)\b|\bthrows me\b|\bstarts on me\b|\bscared of what (?:he|she|hell|shell)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:whether|if) i live or die\b|\bim a burden\b|\b(?:fine|better|manage) without me\b|\bplan(?:ning)? (?:is )?to do it\b|\bways to (?:die|kill myself|end it)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:easy|easier) it would be to (?:jump|die|end)\b|\bplatform\b.{0,60}\b(?:jump|jumping|step|stepping) off\b",
            Guard::Always,
        ),
        (
            r"\b(?:i|ive|im)\b(?: \w+){0,2} (?:cut|cutting|self harm\w*)\b(?: \w+){0,6}? (?:again|started again)\b",
            Guard::Always,
        ),
        // Further common phrasings of suicidal thinking, plans and means.
        (
            r"\bwish(?:ing)? i (?:were|was) dead\b|\bwish(?:ing)? i (?:wasnt|werent) (?:alive|here|born)\b|\bnever been born\b|\bdisappear permanently\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:going to|gonna) end it\b|\bend it (?:tonight|today|this week\w*|soon|now)\b|\bcant (?:keep|go on) living\b|\bno point anymore\b|\bdone with (?:me|myself|living)\b",
            Guard::Unnegated,
        ),
        (
            r"\bslit\w*\b|\bgoodbye (?:letters?|notes?)\b|\bplan for how\b|\bhow id do it\b|\btak(?:e|ing) the kids with me\b|\bbetter off if i (?:wasnt|werent|was gone|died)\b",
            Guard::Unnegated,
        ),
        (
            r"\bhoping i (?:wouldnt|wont|dont) wake\b|\bwouldnt wake up\b|\bswallow\w* everything\b|\bmedicine (?:cabinet|drawer)\b|\bhow many\b.{0,30}\b(?:pills|tablets|paracetamol)\b|\bpills?\b.{0,20}\b(?:lined up|hoarded)\b",
            Guard::Unnegated,
        ),
        (
            r"\bwhether to go over\b|\bover the edge\b|\burges? to (?:hit|hurt|harm|kill)\b|\bpillow over (?:his|her|my)\b|\bcoming for me\b|\bnext to my head\b",
            Guard::Unnegated,
        ),
        // Broader forms, so phrasings the corpora never used are still caught.
        (
            r"\b(?:want|wanna|wish|hope|hoping|pray|praying|deserve|ready|need) (?:to |i could )?(?:die|be dead|be gone|not be here|not exist)\b|\blet me die\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:going to|gonna|want to|wanna|will|plan(?:ning)? to|thinking (?:of|about)|decided to|ready to|might|could|about to) (?:just )?end (?:it|my life|things|everything|myself)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:no|any) (?:reason|point|will) (?:to|in) (?:live|living|stay alive|staying alive|go on|going on|keep going|be here)\b|\bcant (?:go on|take (?:it|this) any ?more)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:im|i am|i feel like|feel like) (?:such )?a burden\b|\bbetter without me\b|\bwithout me around\b|\bnot safe (?:with|around) myself\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:attempt\w*|tried) (?:suicide|to kill myself|to end (?:it|my life)|to take my (?:own )?life)\b|\bod(?:ed|d)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:all|whole|bunch|handful|stash|stockpile|enough|box|bottle|packet|pack) (?:of )?(?:my |the |his |her )?(?:\w+ )?(?:pills|tablets|meds|medication|paracetamol|antidepressants)\b|\b(?:saving|saved|put away|hoarding)\b.{0,15}\b(?:pills|tablets|meds)\b|\b(?:pills|tablets|meds) (?:are )?(?:ready|put away|saved)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:jump|jumping|throw myself|throwing myself|step|stepping) (?:off|from|in front of|under)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|scratch|scratching|hit|hitting|punch|punching|bang|banging|carve|carving) (?:myself|my (?:arms?|wrists?|legs?|thighs?|skin|stomach|head))\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:he|she|they|husband|wife|partner|boyfriend|girlfriend|bf|gf|fiance|fiancee|ex|dad|mum|mom|father|mother)\b(?P<between>(?:\s+\w+){0,6}?)\s+(?:hits?|hitting|punch\w*|kick\w*|slap\w*|chok\w*|strangl\w*|suffocat\w*|shov\w*|beats?|beating|beat up|attack\w*|assault\w*|headbutt\w*|bit|bites|stab\w*|smother\w*|pinned|pins|corner\w*|restrain\w*|dragg?\w*|spat|spits|twist\w*|tied|ties|locks?|locked|rap\w*|forc\w*|hurts|hurt|hurting|grab\w*|slamm?\w*|smash\w*|burn\w*)\s+(?:\w+\s+){0,3}?(?:me|my|us)\b",
            Guard::Violent,
        ),
        (
            r"\b(?:he|she|they|hes|shes|husband|wife|partner|boyfriend|girlfriend|ex)\b.{0,15}\b(?:threat\w*|swore|swears|promised|told me|said|says)\b.{0,30}\b(?:kill|hurt|shoot|stab|strangle|burn|finish)(?: (?:me|us|the kids|them|you|the dog))?\b|\bmake me pay\b",
            Guard::LiteralThreat,
        ),
        (
            r"\b(?:scared|afraid|terrified|frightened|fear)\b(?P<between>(?:\s+\w+){0,4}?)\s+(?:of (?:him|her|my (?:husband|wife|partner|boyfriend|girlfriend|ex))|for my (?:life|safety)|for the kids safety|to go home|of what (?:he|she|hell|shell|hed|shed)|(?:he|she|hell|shell|hed|shed|he will|she will|he might|she might) (?:actually |really |just )?(?:kill|hurt|hit|find|snap|lose it|explode|take the kids|do something|do what|do it))\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:forced|forces|force|made|makes|pressur\w*|coerc\w*) me (?:to )?(?:have sex|into sex|sleep with|do (?:things|stuff|it))\b|\bwithout my consent\b|\bdidnt consent\b|\bsexual(?:ly)? assault\w*|\bmolest\w*|\bwhen i (?:said|say) no\b",
            Guard::Unnegated,
        ),
        (
            r"\bwont let me (?:leave|go|out)\b|\blocked (?:me )?in (?:the|a|my)\b|\btrapped in (?:the|this|my) (?:house|room|flat|car)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:hit|hits|hitting|beat|beats|beating|slap\w*|shak(?:e|es|ing)|shook|kick\w*|punch\w*|chok\w*) (?:the|my|our|his|her) (?:kids|children|baby|son|daughter|boy|girl|cat|dog|puppy)\b",
            Guard::Bodily,
        ),
        (
            r"\b(?:want|wanna|going|gonna|will|ill|could|might|plan\w*|thinking (?:of|about)|fantasi\w*|imagin\w*|dream\w* (?:of|about)|urge to|tempted to) (?:to )?(?:kill|hurt|stab|shoot|strangle|beat|punch|hit|poison|run over|attack|batter|murder)\w* (?:him|her|them|his|that|someone|somebody|people|my (?:husband|wife|partner|boyfriend|girlfriend|ex))\b",
            Guard::ReportedThreat,
        ),
        // Overdose said of oneself, not of Netflix or of a nurse's patients.
        (
            r"\b(?:i|ive|im|id|ill|going to|gonna|might|want to|about to|tried to|took an?)\b(?: (?:just|nearly|almost|really|gonna|going|to|might|have|had|could|will|would|think|thought|about))*? ?overdos\w*|^(?:just )?overdos\w*",
            Guard::Figurative,
        ),
        // Passive wishes, farewells and affairs put in order.
        (
            r"\bif i (?:didnt|dont|never) wake up\b|\b(?:pray|praying|hope|hoping|wish|wishing)\b.{0,30}\b(?:terminal|cancer|plane (?:goes|went) down|crash(?:es)?|hit by|dont wake|not wake)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:letters?|notes?) to (?:the|my) (?:kids|boys|girls|children|sons|daughters|family|wife|husband)\b|\bfor when im gone\b|\bwont be long now\b|\bwhere the passwords are\b|\b(?:affairs|everything|everythings) (?:is )?in order\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:not sure|dont think|doubt) (?:ill|i will|im going to) be (?:around|here|alive)\b|\bnot (?:going to|gonna) be (?:here|around|alive)\b|\bwont be (?:replying|answering|writing|around) (?:after|any ?more|much longer)\b",
            Guard::Always,
        ),
        (
            r"\bdont want (?:\w+ )?more (?:years|months|weeks|days)\b|\bdont want (?:a|any) future\b|\bto be alive\b.{0,6}\bnot (?:really|sure|much)\b|\bbeing alive any ?more\b",
            Guard::Always,
        ),
        (
            r"\b(?:painless|least painful|quickest|easiest) way to (?:go|die|do it|end it)\b|\bone step and (?:its|it is|im|i am) (?:done|over|gone)\b|\b(?:topping|top|do|doing) myself in\b|\btopping myself\b|\btop myself\b",
            Guard::Unnegated,
        ),
        (
            r"\bsaying goodbye\b.{0,40}\b(?:without|knowing)\b|\bsaid goodbye\b.{0,40}\bwithout\b|\blooking at the (?:pills|paracetamol|tablets|rope|drop|bridge)\b|\bnot eating\b.{0,30}\bpunish\b|\b(?:bridge|ledge|roof|cliff|balcony)\b.{0,60}\b(?:the drop|the edge|jump|go over)\b",
            Guard::Unnegated,
        ),
        // Self-harm in the words people use for it.
        (
            r"\bsh (?:again|tonight|last night|relapse)\b|\b(?:cuts?|cutting|slashes|scratches|burns?) on my (?:wrists?|arms?|legs?|thighs?|skin|stomach)\b|\bnails into my\b|\bknuckles (?:split|bleed|bled)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:punch\w*|hit\w*|cut\w*|burn\w*|scratch\w*|bang\w*)\b.{0,60}\b(?:on purpose|deliberately|to feel something|to punish myself)\b",
            Guard::Unnegated,
        ),
        // Harm to others, and violence at home, in further forms.
        (
            r"\bhands? (?:round|around|on) (?:his|her|my|their) (?:neck|throat)\b|\b(?:run|running|drive|driving) (?:his|her|their) car off the road\b|\bwith (?:him|her|them) in it\b",
            Guard::Unnegated,
        ),
        (
            r"\boutside (?:his|her|their)(?: \w+){0,3} (?:house|flat|place|work|door)\b.{0,60}\b(?:hammer|axe|knife|bat|gun|petrol|acid)\b|\b(?:hammer|axe|machete|crowbar|acid|petrol|baseball bat|bat)\b.{0,40}\b(?:passenger seat|in the car|glovebox)\b|\bcan of petrol\b",
            Guard::Unnegated,
        ),
        (
            r"\bnone of us (?:will|would) be (?:around|here|alive|left)\b|\btake them (?:with me|first)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:strangled|suffocated|smothered|punched|kicked|slapped|headbutted|battered|assaulted|raped|stabbed|threw|strangles|kicks|punches) me\b|\b(?:beat|tied) me up\b|\bchok(?:ed|es|ing) me(?: (?:again|till|until|so|and|last|in|during|with|against|out|hard|while|when|every|unconscious)\b|\.|$)|\bpush(?:es|ed|ing)? me (?:down|over|against|into|out|off|onto|around|and)\b|\b(?:stab\w*|slash\w*) (?:my )?hand\b",
            Guard::Violent,
        ),
        (
            r"\b(?:put|smashed|slammed|banged|shoved) my head\b|\bmy head (?:through|into|against)\b|\bwhere it (?:doesnt|wont|does not|will not) show\b|\bto get to me\b|\bmarks on my (?:neck|throat|arms?)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:dont|do not|never) feel safe (?:at home|in (?:my|our) (?:own )?(?:house|home|flat|bed))\b|\bnot safe at home\b|\b(?:scared|afraid|terrified|frightened) (?:of|to go home to) my own (?:husband|wife|partner|boyfriend|girlfriend)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:cant (?:make myself )?|scared to |afraid to |too scared to )go (?:in|home|inside|back)\b.{0,60}\b(?:drinking|drunk|angry|rage|mood|waiting)\b|\b(?:go to|call|calling|ring|tell) the police\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:held|holds|put|pressed|presses) (?:a|the) (?:lighter|cigarette|iron|flame)\b.{0,15}\b(?:my|me)\b",
            Guard::Unnegated,
        ),
        // Further phrasings from a larger development corpus: passive wishes, farewells,
        // plans, rehearsals and research.
        (
            r"\bif i (?:\w+ )?(?:didnt|dont|never) wake up\b|\bnot (?:to )?let me wake up\b|\b(?:whats|what is) (?:even )?the point (?:in|of) (?:living|life|going on|being alive)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:relieved|glad|happy|wouldnt mind) if\b.{0,30}\b(?:died|dead|took me out|hit me|killed me|didnt wake|never woke|wasnt here)\b|\bto (?:just )?be dead\b|\bworth more dead\b|\bctb\b",
            Guard::Unnegated,
        ),
        (
            r"\bwont survive (?:it|this)\b|\bnobody would (?:even )?(?:notice|miss me|care)\b|\b(?:everything|it all|the pain|life) to (?:stop|end)\b.{0,20}\b(?:permanently|for good|forever)\b|\bwant everything to stop\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:disappear|gone|go|leave)\b.{0,30}\b(?:i mean|mean) for good\b|\bnot the marriage\b.{0,6}\blife\b|\bfinish my life\b|\btake myself out\b|\bno more me\b",
            Guard::Unnegated,
        ),
        (
            r"\bmy kids would get over me\b|\bme being gone\b|\b(?:when|once|after) im gone\b|\bif i (?:was|were) gone\b",
            Guard::Unnegated,
        ),
        (
            r"\blast time youll hear from me\b|\bwont need (?:them|it|these|this) after\b|\btell my (?:daughter|son|kids|children|wife|husband|mum|mom|mother|dad|family) (?:i|that i) love\w*\b|\bsaid my goodbyes\b|\bready to go\b|\bsorted (?:out )?(?:my|the) (?:affairs|will)\b|\bcancelled everything\b",
            Guard::Unnegated,
        ),
        (
            r"\btook \d+\b.{0,20}\b(?:pills|tablets|antidepressants|meds|paracetamol|sleeping)\b|\bswallow (?:the lot|them all|all of them|the whole)\b|\b(?:do|doing) it properly\b|\bhave everything i need for it\b",
            Guard::Unnegated,
        ),
        (
            r"\bbought (?:a |some )?rope\b|\b(?:belt|cord|rope|scarf)\b.{0,30}\b(?:back of the door|round my neck|around my neck|beam|banister)\b",
            Guard::Unnegated,
        ),
        (
            r"\bstood (?:on|at) the (?:bridge|cliff|edge|roof|ledge|tracks)\b|\b(?:on|at) the (?:roof|edge|top) of (?:my|the) (?:building|block|car park|multistorey|quarry)\b|\b(?:nearly|almost) (?:jumped|went over)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:walk|walking|go|going|jump|jumping|throw\w* myself) (?:into|in|off) the (?:river|sea|canal|lake|liffey|thames|quarry|pier)\b|\boff the pier\b|\bswerv\w* into\b|\bdrive\b.{0,25}\boff the (?:cliff|road|bridge)\b|\b(?:railway|train) tracks?\b",
            Guard::Unnegated,
        ),
        (
            r"\bthinking about my wrists\b|\b(?:picked|chosen|set) (?:the|a) (?:day|date)\b|\bgoing to do it on (?:our|my|his|her|the)\b|\bim doing it\.?$|\btonight im doing it\b|\bthats when\.?$",
            Guard::Unnegated,
        ),
        (
            r"\b(?:practised|practiced|rehearsed)\b.{0,30}\b(?:it|neck|pills|rope)\b|\b(?:trial|dry) run\b|\battempted (?:on|last|this|again|suicide|to)\b|\bplan sorted\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:lethal|fatal) (?:dose|doses|amount)\b|\bhow (?:long|much|many)\b.{0,40}\b(?:to drown|to die|would kill|would be fatal|lethal|fatal)\b|\bkill someone my size\b|\bhighest bridge\b|\bwhich bridge\b",
            Guard::Unnegated,
        ),
        // Self-harm, in the words people use for it.
        (
            r"\b(?:relapsed|relapse|slipped)\b.{0,30}\b(?:clean|sh|cut|cuts|marks|wrist|arm)\b|\b\d+ days clean\b|\bback to sh\b|\bon sh\b|\bshd\b|\bmy streak\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:cut|cutting|burn\w*|hurt\w*|hit\w*|punch\w*|hob|scratch\w*|bleed\w*|on purpose)\b.{0,50}\bto feel something\b|\b(?:cigarette|lighter)\b.{0,20}\b(?:my|on my) (?:wrist|arm|skin|hand|leg)\b|\binto my (?:arm|leg|skin|stomach|thigh|wrist)\b|\bpick(?:ing)? at my skin\b",
            Guard::Unnegated,
        ),
        (
            r"\blong sleeves\b.{0,40}\b(?:nobody|no one|hide|arms)\b|\bhiding my (?:arms|thighs|legs|wrists)\b|\bsee the cuts\b|\b(?:the|my|new) (?:cuts|marks|scars|burns) (?:on|were|from)\b|\bneeded stitches\b|\bmy arms are a mess\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:havent eaten|not eaten|not eating|starv\w*|make myself sick|purg\w*)\b.{0,40}\b(?:deserve|punish\w*|hate myself)\b|\bpurging again\b|\bdeserve (?:the )?pain\b|\bgive it to myself\b",
            Guard::Unnegated,
        ),
        (
            r"\bis cutting\b|\bcutting (?:is|helps)\b|\bslic\w* (?:my|into my) (?:arms?|wrists?|legs?|thighs?|stomach|skin)\b|\bused\b.{0,40}\bon my (?:arm|wrist|leg|skin|thigh)s?\b|\bnow i do it with\b|\b(?:drank|drink|drinking|swallowed) (?:a bit of |some )?(?:bleach|antifreeze)\b|\b(?:slammed|smashed|burned|burnt) my own\b|\bmarks on my (?:wrists?|legs?|thighs?)\b",
            Guard::Unnegated,
        ),
        // Harm to others.
        (
            r"\bput (?:him|her|them) in the ground\b|\b(?:going|go|went|driving|heading) (?:round|over|there)\b.{0,40}\b(?:bat|knife|hammer|gun|machete|crowbar|petrol)\b|\bpay for this\b.{0,15}\bphysically\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:thoughts?|fantas\w*|picturing|imagin\w*) (?:of |about )?(?:smothering|drowning|stabbing|strangling|killing|hurting|shaking|suffocating|poisoning|putting a knife)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:set|setting) (?:fire to|the house on fire|the place on fire|their house on fire)\b|\bget rid of (?:her|his|their) (?:cat|dog|pet)\b|\bif i cant have (?:the kids|them|her|him)\b.{0,20}\bnobody\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:follow|track\w*|followed)\b.{0,15}\b(?:her|him|them|her phone|his phone)\b.{0,60}\b(?:do something|going there|im going|knife|hurt)\b|\bgoing there now\b",
            Guard::Unnegated,
        ),
        (
            r"\bsee (?:him|her|them) bleed\b|\brun (?:him|her|them) over\b|\bsnap (?:his|her) neck\b|\bregret it\b.{0,30}\bplanning\b|\b(?:kill|hurt) (?:himself|herself)\b",
            Guard::LiteralThreat,
        ),
        // Violence and abuse at home.
        (
            r"\b(?:gave me|i have|ive got|i got|got|my) (?:a )?black eye\b|\bblack eye\b.{0,30}\b(?:told|cupboard|door|makeup|hide|cover)\b|\bwalked into a (?:cupboard|door)\b|\bgave me (?:a|another) (?:hiding|beating|kicking|slap)\b|\b(?:broken|cracked|bruised|bad) ribs\b|\bribs are\b",
            Guard::Unnegated,
        ),
        (
            r"\bmachete\b|\bbarrel\b.{0,20}\b(?:my head|me)\b|\bpointed (?:it|a gun|the gun|the rifle|his rifle|a knife|the knife) at me\b|\bpointed\b.{0,20}\bat me\b",
            Guard::Unnegated,
        ),
        (
            r"\bsay no\b.{0,30}\b(?:worse|anyway|let him|make me)\b|\bif i say no\b|\bdoes things to me\b|\bwhile im asleep\b",
            Guard::Unnegated,
        ),
        (
            r"\bso i cant (?:leave|get out|call anyone|go)\b|\bnever see them again\b|\bfind me wherever\b|\bfinish it\b|\blocked the doors\b|\btook the battery out\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:parked|waiting|sitting) outside my (?:house|flat|work|door)\b|\bkeeps following me\b|\bdead (?:bird|animal|cat|rat|rabbit)\b|\bpictures of my house\b|\b(?:turned|showed) up\b.{0,40}\b(?:hammer|knife|gun|bat|machete)\b",
            Guard::Unnegated,
        ),
        (
            r"\b(?:threw|throws|hurt|hurts|hit|hits) (?:my|our|the) (?:son|daughter|baby|kids|children|boy|girl) (?:against|into|across|down)\b|\bdrown (?:the|my|our) (?:baby|kids|son|daughter)\b",
            Guard::Unnegated,
        ),
        (
            r"\bhiding in the (?:bathroom|bedroom|toilet|car|garage|wardrobe)\b|\blocked myself in\b|\bbanging on the door\b|\b(?:crash|kill) us (?:both|all)\b|\bwont see christmas\b|\blearn my lesson\b",
            Guard::Unnegated,
        ),
        (
            r"\bwont let me (?:see a doctor|go to hospital|get help)\b|\btoo (?:frightened|scared|afraid) to go (?:back|home|in)\b|\bsleeping in the car\b|\bhop\w* (?:he|she|someone) (?:kills|will kill|would kill) me\b",
            Guard::Unnegated,
        ),
        (
            r"\bwhere it (?:shows|doesnt show|wont show)\b",
            Guard::Always,
        ),
        (
            r"\bpost the videos\b|\b(?:wrote|written|left) (?:a|the|my) note\b.{0,60}\b(?:find it|drawer|when|after|tomorrow)\b",
            Guard::Unnegated,
        ),
        (
            r"\bsmothered me\b|\bsits on my chest\b|\bpermission to eat\b|\bout of the house without him\b|\bchair wedged under the door\b",
            Guard::Always,
        ),
    ])
});

/// Asking the bot to decide, judge or advise. Looked for in explicit requests anywhere, and in
/// what the message ends on: a question the writer answers ("Why did I stop trying? I think
/// because…") is reflection, not a request.
fn asks_for_advice(text: &str) -> bool {
    if DECLINES_ADVICE.is_match(text) {
        return false;
    }
    if DIRECT_REQUEST.iter().any(|rule| rule.matches(text)) {
        return true;
    }
    let Some(question) = final_question(text) else {
        return false;
    };
    !COUNTERFACTUAL.is_match(question) && ADVICE_QUESTION.iter().any(|rule| rule.matches(question))
}

/// Short tags after a question that do not answer it.
const TAGS: [&str; 12] = [
    "lol",
    "genuinely asking",
    "be honest",
    "honestly",
    "seriously",
    "please",
    "pls",
    "thanks",
    "help",
    "asking for real",
    "no but really",
    "i need an answer",
];

/// The last sentence, if it is a question (with or without its question mark).
fn final_question(text: &str) -> Option<&str> {
    let mut sentences: Vec<&str> = text
        .split_inclusive(['.', '?', '!'])
        .map(str::trim)
        .filter(|sentence| !sentence.is_empty())
        .collect();
    if sentences.len() > 1 {
        let last = sentences[sentences.len() - 1].trim_end_matches(['.', '!', '?']);
        if TAGS.contains(&last) {
            sentences.pop();
        }
    }
    let last = *sentences.last()?;
    (last.ends_with('?') || QUESTION_OPENING.is_match(last)).then_some(last)
}

static QUESTION_OPENING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:should|shld|shud|would|could|can|do|does|is|am|are|will|u think|any)\b|^(?:what|whats|wat|how|which|where|who)\s+(?:should|shall|do|does|did|would|could|can|is|are|am|will|to|the|my|if|one)\b")
        .expect("valid")
});

/// "Should I have…?" looks back; it is reflection, not a request.
static COUNTERFACTUAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:should|could|would) (?:i|we) have\b").expect("valid"));

/// Saying outright that advice is not wanted.
static DECLINES_ADVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bim not asking\b|\bis the question i\b|\bdont (?:need|want) (?:advice|anyone to tell)\b|\bnot asking (?:for advice|what)\b")
        .expect("valid")
});

static DIRECT_REQUEST: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            r"\btell me (?:what|whether|if|how|honestly|straight|it|im|i)\b|\bpls just tell me\b|\bjust tell me\b|\bplease tell me\b|\btell me\.?$",
            Guard::Reported,
        ),
        (
            r"\b(?:any|your|some|need|give me|want|like|asking for|looking for|love|id like|id love|i need ur|need ur) (?:\w+ )?(?:advice|guidance|tips|opinion|thoughts|take|view|direction|suggestions|recommendations)\b",
            Guard::Reported,
        ),
        (
            r"\bsomeone to (?:just )?(?:tell|say)\b|\b(?:can|could|would) you (?:recommend|suggest|advise)\b|\brecommend me\b|\brecommend (?:a|an|some|any)\b|\byou (?:pick|choose|decide)\b",
            Guard::Reported,
        ),
        (
            r"\bmy question is\b|\bor is it time\b|\b(?:quick|random|honest|serious) (?:q|question)\b|\bgive me (?:an|the|a|your) (?:\w+ )?answer\b|^(?:any )?(?:suggestions|ideas|tips|recommendations)\b|\bsuggestions for\b",
            Guard::Always,
        ),
        (
            r"\bhow should (?:i|we) (?:handle|deal|approach|tell|say|bring|talk|respond|react|cope|manage|ask|explain|start|go about)\b|\bwhens the right time\b|\bwhat would you (?:choose|pick)\b|^best \w+",
            Guard::Reported,
        ),
        (
            r"\badvise me\b|\bopinions? pls\b|\bthoughts\?|\bwhats your take\b|\bwhat do you reckon\b|\bweigh in\b|\b(?:im )?asking you\b",
            Guard::Always,
        ),
        (
            r"\bhelp me (?:decide|figure|work out|write|say|choose|land|make|understand)\b|\bhelp deciding\b|\bhelp me\b.{0,30}\bdecide\b",
            Guard::Always,
        ),
        (
            r"\b(?:decide|choose|pick)(?: one)? for me\b|\bmake (?:the|this) (?:call|decision) for me\b|\bmake this decision for me\b|\bmake the call\b",
            Guard::Always,
        ),
        (
            r"\b(?:walk|talk) me through\b|\bgive me (?:a straight answer|something practical|your honest)\b|\bi need (?:advice|guidance|direction|someone to (?:tell|make)|a plan)\b",
            Guard::Always,
        ),
        (
            r"\b(?:wish|hoping|hope) (?:someone|you|somebody)(?: would| could|ll|will)? (?:just )?(?:tell|say)\b|\bsomeone to (?:just )?(?:tell|say) (?:me )?(?:if|whether|stay|what)\b",
            Guard::Always,
        ),
        (
            r"\bwhat (?:exactly |actually |even )?(?:should|do|would|can|could) (?:i|we) (?:even |actually |exactly )?(?:do|say|tell|prioritise|choose)\b|\bwhat would you (?:do|tell|advise|say|suggest|recommend)\b|\bwhat do you think\b",
            Guard::Reported,
        ),
        (
            r"\bshould (?:i|we) (?:stay|leave|go|divorce|separate|split|tell|try|give|move|wait|confront|forgive|ask|bring|keep|be|start|see|confess)\b|\bshld i\b|\bshud i\b|\bwould you (?:stay|go|leave)\b|\bif you were (?:me|in my)\b",
            Guard::Reported,
        ),
        (
            r"\bwhat are my options\b|\bwhat steps\b|\bnext (?:step|move)\b|\bany (?:exercises|suggestions|recommendations|ideas|tips)\b",
            Guard::Always,
        ),
    ])
});

static ADVICE_QUESTION: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (r"\byou\b|\bu\b|\bur\b|\bshould\b", Guard::Always),
        (
            r"^(?:should|shld|shud|would|could|can|do|does|is|am|are|will|which|how|what|whats|wat|where|any)\b",
            Guard::Always,
        ),
        (
            r"\b(?:normal|ok|okay|wrong|fair|selfish|bad|cruel|too late|reasonable|possible|worth|smart|better|weird|red flag|sign|mistake|crazy|overreacting|cheating|allowed|right thing|best way)\b",
            Guard::Always,
        ),
    ])
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_reads_apostrophes_and_punctuation_alike() {
        assert_eq!(
            normalise("I DON’T want… to be here!!"),
            "i dont want to be here!!"
        );
        assert_eq!(normalise("what—do  I do?"), "what do i do?");
    }

    #[test]
    fn crisis_is_found_in_direct_and_coded_forms() {
        for text in [
            "I want to kill myself",
            "I don't want to be here anymore",
            "honestly some days I want to end it all",
            "kms",
            "been thinking about how to unalive myself",
            "he choked me last night",
            "I'm scared he'll kill me",
            "I'm going to hurt him if he touches me again",
        ] {
            assert_eq!(assess(text), Concern::Crisis, "{text}");
        }
    }

    #[test]
    fn figures_of_speech_are_not_a_crisis() {
        for text in [
            "this job is killing me",
            "I could kill for a coffee",
            "our love died years ago",
            "I'm not in danger, just sad",
            "my mother-in-law would kill me if she knew",
            "he never hits me, he just ignores me",
            "I cut my hair short, first time in years",
            "shoot, I forgot our anniversary",
        ] {
            assert_eq!(assess(text), Concern::None, "{text}");
        }
    }

    #[test]
    fn advice_requests_are_found_and_reflective_questions_are_not() {
        for text in [
            "should I leave him?",
            "what would you do?",
            "tell me what to do",
            "is it normal that I feel nothing?",
        ] {
            assert_eq!(assess(text), Concern::Advice, "{text}");
        }
        for text in [
            "why did I stop trying? I think because I was tired",
            "I asked myself what I should do and I wrote a list",
            "my friend told me to leave but I'm not sure",
        ] {
            assert_eq!(assess(text), Concern::None, "{text}");
        }
    }

    #[test]
    fn a_crisis_outranks_a_request_for_advice() {
        assert_eq!(assess("should I just end it all?"), Concern::Crisis);
    }
}
