# Ruby Flipper's side of test/prisma/flipper-interop.test.ts: Flipper 0.25 with its ActiveRecord
# adapter on the database in DATABASE_URL. Reads one JSON command on stdin, applies its steps
# through Flipper's public API, and prints what Flipper then sees as JSON on stdout.
require 'json'
require 'set'
require 'active_record'
require 'flipper'
require 'flipper/adapters/active_record'

ActiveRecord::Base.establish_connection(ENV.fetch('DATABASE_URL'))
ActiveRecord::Base.logger = nil

command = JSON.parse($stdin.read)
flipper = Flipper.new(Flipper::Adapters::ActiveRecord.new)

# Flipper's actors are anything with a flipper_id.
Actor = Struct.new(:flipper_id)

(command['steps'] || []).each do |op, feature, arg|
  f = flipper[feature]
  case op
  when 'add' then f.add
  when 'remove' then f.remove
  when 'clear' then f.clear
  when 'enable' then f.enable
  when 'disable' then f.disable
  when 'enable_actor' then f.enable_actor(Actor.new(arg))
  when 'disable_actor' then f.disable_actor(Actor.new(arg))
  when 'enable_group' then f.enable_group(arg)
  when 'disable_group' then f.disable_group(arg)
  when 'enable_percentage_of_actors' then f.enable_percentage_of_actors(arg)
  when 'disable_percentage_of_actors' then f.disable_percentage_of_actors
  when 'enable_percentage_of_time' then f.enable_percentage_of_time(arg)
  when 'disable_percentage_of_time' then f.disable_percentage_of_time
  else raise ArgumentError, "unknown step #{op}"
  end
end

state = {}
flipper.features.sort_by(&:key).each do |f|
  state[f.key] = {
    boolean: f.boolean_value,
    actors: f.actors_value.to_a.sort,
    groups: f.groups_value.to_a.sort,
    percentage_of_actors: f.percentage_of_actors_value,
    percentage_of_time: f.percentage_of_time_value,
  }
end

enabled = {}
(command['enabled'] || {}).each do |feature, actor_ids|
  enabled[feature] = actor_ids.select { |id| flipper[feature].enabled?(Actor.new(id)) }
end

puts JSON.generate(features: flipper.features.map(&:key).sort, state: state, enabled: enabled)
